/** Every limit the validators enforce; config.ts fills it from the environment (README lists keys). */
export interface FeedbackLimits {
  /** response_id length (contract: 1..64). */
  maxResponseIdLength: number;
  /** feedback_id and annotator id length (contract: 1..128). */
  maxIdLength: number;
  maxMessages: number;
  /** Code points of all text parts of the prompt together (contract: 256 KiB of text). */
  maxPromptChars: number;
  maxAnswerChars: number;
  maxImages: number;
  maxSources: number;
  maxSourceChars: number;
  /** Low-confidence spans per response (contract: 32). */
  maxLowConfidenceSpans: number;
  /** Span corrections per feedback (contract: 64). */
  maxSpans: number;
  /** Comment length in code points (contract: 4096). */
  maxCommentChars: number;
  /** Serialised size of a feedback's metadata Struct. */
  maxMetadataBytes: number;
  defaultRetentionMs: number;
  /** Per-tenant retention overrides (TESSERA_FEEDBACK_RETENTION_BY_TENANT). */
  retentionByTenant: Readonly<Record<string, number>>;
  /** Span categories beyond the six defaults, e.g. `attribute/color`. */
  extraCategories: readonly string[];
}

export const DEFAULT_LIMITS: FeedbackLimits = Object.freeze({
  maxResponseIdLength: 64,
  maxIdLength: 128,
  maxMessages: 64,
  maxPromptChars: 256 * 1024,
  maxAnswerChars: 64 * 1024,
  maxImages: 16,
  maxSources: 32,
  maxSourceChars: 8_000,
  maxLowConfidenceSpans: 32,
  maxSpans: 64,
  maxCommentChars: 4_096,
  maxMetadataBytes: 16 * 1024,
  defaultRetentionMs: 90 * 86_400_000,
  retentionByTenant: Object.freeze({}),
  extraCategories: [],
});

export function retentionFor(limits: FeedbackLimits, tenant: string): number {
  return limits.retentionByTenant[tenant] ?? limits.defaultRetentionMs;
}
