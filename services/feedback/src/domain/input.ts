/**
 * Shapes accepted from the service layer before validation (the wire types mapped to plain
 * objects). Everything is optional: the mapping fills what the client sent, validation decides.
 */
export interface ObjectRefInput {
  bucket?: string;
  key?: string;
  size?: number;
  contentType?: string;
}

export interface RecordResponseInput {
  responseId?: string;
  model?: string;
  modelRevision?: string;
  messages?: { role?: string; content?: { text?: string; image?: ObjectRefInput }[] }[];
  sources?: { index?: number; collection?: string; id?: string; text?: string; relevance?: number; metadata?: Record<string, unknown> }[];
  sampling?: Record<string, unknown>;
  answer?: string;
  finishReason?: string;
  usage?: { promptTokens?: number; visualTokens?: number; completionTokens?: number; totalTokens?: number };
  confidence?: { tokenCount?: number; meanLogprob?: number; minLogprob?: number; lowConfidenceTokens?: number; spans?: { start?: number; end?: number; meanLogprob?: number }[] };
  collection?: string;
  /** A text completion's raw prompt (feedback.proto ResponseRecord.prompt); unset for chats. */
  prompt?: string;
}

export interface AnnotatorInput {
  id?: string;
  source?: string;
}

export interface SpanInput {
  start?: number;
  end?: number;
  /** Optional echo of the answer text in [start, end); checked to catch UTF-16/byte offset mistakes. */
  original?: string;
  replacement?: string;
  category?: string;
  annotator?: AnnotatorInput;
  confidence?: number;
}

export interface SubmitFeedbackInput {
  feedbackId?: string;
  responseId?: string;
  rating?: { key?: string; thumbs?: string; score?: number };
  comment?: string;
  correction?: string;
  spans?: SpanInput[];
  preference?: { chosenResponseId?: string; rejectedResponseId?: string };
  annotator?: AnnotatorInput;
  metadata?: Record<string, unknown>;
}
