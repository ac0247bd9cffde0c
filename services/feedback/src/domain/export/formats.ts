import { TextOffsets } from '../offsets.js';
import type { ChatMessage, FeedbackRecord, ObjectRef, ResponseRecord } from '../types.js';
import { imagesInOrder, lastUserText, primaryCategory, type Pair } from './pairs.js';

/** Export formats; README.md "Export schemas" documents each row shape, schemas.ts checks it. */
export const EXPORT_FORMATS = ['trl-dpo', 'openai-dpo', 'rlaif-v', 'kto', 'sft', 'spans-sidecar', 'openai-sft'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export type Row = Record<string, unknown>;
/** Image → the string a row carries: `tessera://bucket/key` (REF) or a data URL (INLINE). */
export type ImageText = (img: ObjectRef) => string;

function trlMessages(messages: readonly ChatMessage[]): Row[] {
  return messages.map((m) => ({ role: m.role, content: m.content.map((p) => (p.type === 'text' ? { type: 'text', text: p.text } : { type: 'image' })) }));
}

const assistant = (text: string): Row[] => [{ role: 'assistant', content: [{ type: 'text', text }] }];

/**
 * The formats a text completion's record (ResponseRecord.prompt) is exported in: TRL's, in its standard
 * non-conversational form (prompt and answers as plain strings, no chat template to apply), and the
 * sidecar. OpenAI's fine-tuning formats and RLAIF-V hold chats only, so they skip such records.
 */
export const TEXT_COMPLETION_FORMATS: ReadonlySet<ExportFormat> = new Set(['trl-dpo', 'kto', 'sft', 'spans-sidecar']);

/** TRL DPOTrainer, conversational with images: prompt / chosen / rejected / images (+ id); a text completion's as plain strings. */
export function trlDpoRow(p: Pair, image: ImageText): Row {
  if (p.response.prompt !== undefined) return { id: p.id, prompt: p.response.prompt, chosen: p.chosen, rejected: p.rejected, images: [] };
  return { id: p.id, prompt: trlMessages(p.response.messages), chosen: assistant(p.chosen), rejected: assistant(p.rejected), images: imagesInOrder(p.response.messages).map(image) };
}

function openAiMessages(messages: readonly ChatMessage[], image: ImageText): Row[] {
  return messages.map((m) => {
    if (m.content.every((c) => c.type === 'text')) return { role: m.role, content: m.content.map((c) => (c.type === 'text' ? c.text : '')).join('') };
    return { role: m.role, content: m.content.map((c) => (c.type === 'text' ? { type: 'text', text: c.text } : { type: 'image_url', image_url: { url: image(c.image) } })) };
  });
}

/**
 * OpenAI fine-tuning `method: dpo` JSONL (also Together/Fireworks): their exact keys, nothing else.
 * Text-only, as OpenAI's DPO guide says: image parts are left out (the exporter counts them).
 */
export function openAiDpoRow(p: Pair): Row {
  const messages = p.response.messages.map((m) => ({ role: m.role, content: m.content.flatMap((c) => (c.type === 'text' ? [c.text] : [])).join('\n') }));
  return {
    input: { messages, tools: [], parallel_tool_calls: true },
    preferred_output: [{ role: 'assistant', content: p.chosen }],
    non_preferred_output: [{ role: 'assistant', content: p.rejected }],
  };
}

/**
 * OpenAI chat fine-tuning (supervised) row: the prompt with images as `image_url` data URLs (their
 * vision fine-tuning format), then the corrected answer as the assistant message.
 */
export function openAiSftRow(p: Pair, image: ImageText): Row {
  return { messages: [...openAiMessages(p.response.messages, image), { role: 'assistant', content: p.chosen }] };
}

/** openbmb/RLAIF-V-Dataset columns (what RLAIF-V's RLAIFVDataset reads) plus the row id. */
export function rlaifVRow(p: Pair, idx: number, tenant: string, image: ImageText, inlineBytes: boolean): Row {
  const imgs = imagesInOrder(p.response.messages);
  const path = imgs.length ? `tessera://${imgs[0].bucket}/${imgs[0].key}` : '';
  const text = imgs.length ? image(imgs[0]) : '';
  return {
    ds_name: `tessera/${tenant}`,
    image: imgs.length ? { bytes: inlineBytes ? text.slice(text.indexOf(',') + 1) : null, path } : null,
    question: lastUserText(p.response.messages),
    chosen: p.chosen,
    rejected: p.rejected,
    origin_dataset: 'tessera',
    origin_split: JSON.stringify({ model: p.response.model, revision: p.response.modelRevision, feedback: p.origin, source: p.annotator.source, category: primaryCategory(p.spans.map((s) => s.category)) }),
    idx,
    image_path: path,
    id: p.id,
  };
}

function offsetsOf(t: TextOffsets, start: number, end: number): Row {
  return { start, end, utf16: [t.toUtf16(start), t.toUtf16(end)], utf8: [t.toUtf8(start), t.toUtf8(end)], text: t.slice(start, end) };
}

/**
 * Dense-DPO sidecar: one row per pair (same order and ids as the pair exports), each corrected
 * span with code point, UTF-16 and UTF-8 byte offsets in both rejected and chosen text. A trainer
 * maps the offsets onto any tokenizer's offset mapping and weights overlapping tokens by γ.
 */
export function spansSidecarRow(p: Pair): Row {
  const rej = new TextOffsets(p.rejected);
  const cho = new TextOffsets(p.chosen);
  return {
    id: p.id,
    origin: p.origin,
    offset_unit: 'code_point',
    dense: p.spans.length > 0,
    rejected_length: rej.length,
    chosen_length: cho.length,
    spans: p.spans.map((s) => ({ category: s.category, rejected: offsetsOf(rej, s.rejected.start, s.rejected.end), chosen: offsetsOf(cho, s.chosen.start, s.chosen.end) })),
  };
}

/** KTO label of a rating: thumbs up, or a normalised score >= 0.5. */
export function ktoLabel(f: FeedbackRecord): boolean | undefined {
  if (!f.rating) return undefined;
  return f.rating.thumbs !== null ? f.rating.thumbs === 'up' : (f.rating.score ?? 0) >= 0.5;
}

/** TRL KTO unpaired row from a rating (a text completion's: prompt and completion as plain strings). */
export function ktoRow(f: FeedbackRecord, r: ResponseRecord, image: ImageText): Row | undefined {
  const label = ktoLabel(f);
  if (label === undefined || !f.rating) return undefined;
  return {
    id: f.feedbackId,
    prompt: r.prompt ?? trlMessages(r.messages),
    completion: r.prompt !== undefined ? r.answer : assistant(r.answer),
    label,
    images: imagesInOrder(r.messages).map(image),
    rating_key: f.rating.key,
  };
}

/**
 * SFT row from a correction: the prompt followed by the corrected answer; a text completion's in TRL's
 * prompt-completion form (SFTTrainer trains on the completion only).
 */
export function sftRow(p: Pair, image: ImageText): Row {
  if (p.response.prompt !== undefined) return { id: p.id, prompt: p.response.prompt, completion: p.chosen, images: [] };
  return { id: p.id, messages: [...trlMessages(p.response.messages), ...assistant(p.chosen)], images: imagesInOrder(p.response.messages).map(image) };
}
