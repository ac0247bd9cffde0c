/**
 * Prompt assembly: MiniCPM-V 2.6 ChatML + image placeholders → token ids and the positions of the
 * `<unk>` slots that receive visual token embeddings.
 *
 *   <|im_start|>system\nYou are a helpful assistant.<|im_end|>\n      (when the first turn is not system)
 *   <|im_start|>{role}\n{parts joined by "\n"}<|im_end|>\n            (every message)
 *   <|im_start|>assistant\n                                           (generation prompt)
 *
 * An image part becomes `@tessera/vision`'s placeholder ([<image_id>k</image_id>]<image>U</image> and
 * rows of <slice>U</slice>); the resampler's rows (overview, then slices row-major) are written over
 * the U slots, as MiniCPM-V's `get_vllm_embedding` does with image_bound.
 */
import { invalidArgument } from '@tessera/runtime';
import { IMAGE_TOKENS, imagePlaceholder, type SlicePlan } from '@tessera/vision';
import type { VisualInput } from '../engine/types.js';
import type { PromptTokenizer } from './prompt-tokenizer.js';
import { renderToolTurns } from '@tessera/structured';
import type { PromptImage, PromptInput, PromptMessage, PromptPart } from './prompt-types.js';

export const DEFAULT_SYSTEM_PROMPT = 'You are a helpful assistant.';

export interface ModelShape {
  hiddenSize: number;
  queryNum: number;
}

export interface AssembledPrompt {
  tokenIds: Int32Array;
  visual?: VisualInput;
  visualTokens: number;
  /** The output opens with reasoning up to `</think>` (reasoning.ts); unset = no (2.6 has no thinking). */
  reasoning?: boolean;
}

type Item = { kind: 'control'; spelling: string } | { kind: 'text'; text: string } | { kind: 'visual'; image: number; sub: number; count: number };

const TAGS = [IMAGE_TOKENS.idStart, IMAGE_TOKENS.idEnd, IMAGE_TOKENS.imageStart, IMAGE_TOKENS.imageEnd, IMAGE_TOKENS.sliceStart, IMAGE_TOKENS.sliceEnd];

export function assemblePrompt(input: PromptInput, tok: PromptTokenizer, model: ModelShape, limits: { maxImages: number }): AssembledPrompt {
  const hasMessages = (input.messages?.length ?? 0) > 0;
  const hasPrompt = (input.prompt?.length ?? 0) > 0;
  if (hasMessages === hasPrompt) throw invalidArgument('messages', 'exactly one of messages and prompt must be non-empty');
  if (input.images.length > limits.maxImages) throw invalidArgument('images', `${input.images.length} images; at most ${limits.maxImages} per request`, `images <= ${limits.maxImages}`);
  input.images.forEach((img, i) => checkImage(img, i, model));

  const items: Item[] = [];
  const used = new Set<number>();
  const parts = (list: PromptPart[], field: string): void => {
    list.forEach((p, j) => {
      if (j > 0) items.push({ kind: 'text', text: '\n' });
      if (p.kind === 'text') {
        checkText(p.text, `${field}[${j}].text`);
        items.push({ kind: 'text', text: p.text });
      } else {
        const k = p.imageIndex;
        if (!Number.isInteger(k) || k < 0 || k >= input.images.length) {
          throw invalidArgument(`${field}[${j}].image.image_index`, `image_index ${k} is outside the ${input.images.length} images of the request`, `0 <= image_index < ${input.images.length}`);
        }
        used.add(k);
        placeholder(items, input.images[k]!, k, model.queryNum);
      }
    });
  };
  if (hasMessages) {
    const msgs = hermesTurns(input);
    if (msgs[0]!.role !== 'system') items.push(...turn('system', [{ kind: 'text', text: DEFAULT_SYSTEM_PROMPT }]));
    const ending = input.ending ?? 'open-turn';
    msgs.forEach((m, i) => {
      items.push({ kind: 'control', spelling: '<|im_start|>' }, { kind: 'text', text: `${m.role}\n` });
      const start = items.length;
      parts(m.parts, `messages[${i}].parts`);
      if (ending === 'continue-final' && i === msgs.length - 1) return void leaveOpen(items, start);
      items.push({ kind: 'control', spelling: '<|im_end|>' }, { kind: 'text', text: '\n' });
    });
    if (ending === 'open-turn') items.push({ kind: 'control', spelling: '<|im_start|>' }, { kind: 'text', text: 'assistant\n' });
  } else {
    parts(input.prompt!, 'prompt');
  }
  input.images.forEach((_, i) => {
    if (!used.has(i)) throw invalidArgument(`images[${i}]`, `image ${i} has visual tokens but no placeholder references it`);
  });
  return tokenize(items, input.images, tok, model);
}

/**
 * continue_final_message on the ChatML template: HF cuts the rendered chat after the final message's
 * stripped text, so the turn stays open and trailing whitespace goes; a message that does not end with
 * non-blank text has nothing to continue.
 */
function leaveOpen(items: Item[], contentStart: number): void {
  const last = items.length > contentStart ? items.at(-1) : undefined;
  const text = last?.kind === 'text' ? last.text.trimEnd() : '';
  if (!text || last?.kind !== 'text') throw invalidArgument('continue_final_message', 'continue_final_message: the last message must end with text to continue');
  last.text = text;
}

function turn(role: string, parts: PromptPart[]): Item[] {
  const text = parts.map((p) => (p.kind === 'text' ? p.text : '')).join('\n');
  return [{ kind: 'control', spelling: '<|im_start|>' }, { kind: 'text', text: `${role}\n${text}` }, { kind: 'control', spelling: '<|im_end|>' }, { kind: 'text', text: '\n' }];
}

/** The vision library's layout, split into control tags, text (digits, "\n") and visual slot runs. */
function placeholder(items: Item[], img: PromptImage, k: number, queryNum: number): void {
  const sliced = img.gridCols > 0 && img.gridRows > 0;
  const plan = {
    grid: sliced ? { cols: img.gridCols, rows: img.gridRows } : null,
    slices: new Array(sliced ? img.gridCols * img.gridRows : 0),
  } as unknown as SlicePlan;
  const ph = imagePlaceholder(plan, { queryNum, imageIndex: k, useImageId: img.useImageId });
  for (const seg of ph.segments) {
    if (seg.kind === 'visual') {
      items.push({ kind: 'visual', image: k, sub: seg.image, count: seg.count });
      continue;
    }
    // Tags are template-made, so they become control tokens; what lies between them stays text.
    let rest = seg.text;
    while (rest.length > 0) {
      const tag = TAGS.find((t) => rest.startsWith(t));
      if (tag) {
        items.push({ kind: 'control', spelling: tag });
        rest = rest.slice(tag.length);
        continue;
      }
      const next = Math.min(...TAGS.map((t) => rest.indexOf(t)).filter((i) => i >= 0), rest.length);
      items.push({ kind: 'text', text: rest.slice(0, next) });
      rest = rest.slice(next);
    }
  }
}

function tokenize(items: Item[], images: PromptImage[], tok: PromptTokenizer, model: ModelShape): AssembledPrompt {
  const ids: number[] = [];
  const positions: number[] = [];
  const rows: Float32Array[] = [];
  const unk = tok.control(IMAGE_TOKENS.unk);
  const H = model.hiddenSize;
  let text = '';
  const flush = (): void => {
    if (text) ids.push(...tok.encodeText(text));
    text = '';
  };
  for (const it of items) {
    if (it.kind === 'text') { text += it.text; continue; }
    flush();
    if (it.kind === 'control') { ids.push(tok.control(it.spelling)); continue; }
    const src = images[it.image]!.tokens;
    const base = it.sub * it.count * H;
    for (let q = 0; q < it.count; q++) {
      positions.push(ids.length);
      ids.push(unk);
    }
    rows.push(src.subarray(base, base + it.count * H));
  }
  flush();
  if (positions.length === 0) return { tokenIds: Int32Array.from(ids), visualTokens: 0 };
  const embeddings = new Float32Array(positions.length * H);
  let off = 0;
  for (const r of rows) { embeddings.set(r, off); off += r.length; }
  return { tokenIds: Int32Array.from(ids), visual: { positions: Int32Array.from(positions), embeddings }, visualTokens: positions.length };
}

export function checkImage(img: PromptImage, i: number, model: ModelShape): void {
  refuseVideo(img, i, 'MiniCPM-V 2.6');
  const field = `images[${i}].visual_tokens`;
  const { gridCols: c, gridRows: r } = img;
  if (!Number.isInteger(c) || !Number.isInteger(r) || c < 0 || r < 0 || (c === 0) !== (r === 0)) {
    throw invalidArgument(`images[${i}].grid_cols`, `grid ${c}×${r}: both 0 (not sliced) or both >= 1`);
  }
  const n = 1 + c * r;
  const want = [n, model.queryNum, model.hiddenSize];
  if (img.shape.length !== 3 || img.shape.some((d, j) => d !== want[j])) {
    throw invalidArgument(field, `visual tokens shape [${img.shape.join(', ')}] does not match the placeholders: [1 + ${c}×${r}, queryNum ${model.queryNum}, hidden ${model.hiddenSize}] = [${want.join(', ')}]`, `shape = [${want.join(', ')}]`);
  }
  if (img.tokens.length !== n * model.queryNum * model.hiddenSize) {
    throw invalidArgument(field, `visual tokens hold ${img.tokens.length} values, shape [${want.join(', ')}] needs ${n * model.queryNum * model.hiddenSize}`);
  }
}

/** A video embedding given to a family (or prompt form) without video input: 400 naming the field. */
export function refuseVideo(img: PromptImage, i: number, what: string): void {
  if (img.videoGroups !== undefined) {
    throw invalidArgument(`images[${i}].video`, `images[${i}] is a video; ${what} has no video input (MiniCPM-V 4.5 chat messages do)`, 'no video');
  }
}

/** Lone surrogates are what invalid UTF-8 turns into on the JS side of a transport. */
/**
 * 2.6's own template has no tool section, so tools, tool calls and tool results are rendered in the
 * Hermes layout (@tessera/structured tool-calls.ts, what vLLM's tool_chat_template_hermes.jinja gives
 * ChatML models) as plain system/user/assistant turns; without any of them the messages pass unchanged.
 */
export function hermesTurns(input: Pick<PromptInput, 'messages' | 'tools'>): PromptMessage[] {
  const msgs = input.messages ?? [];
  const tools = input.tools ?? [];
  if (tools.length === 0 && !msgs.some((m) => m.role === 'tool' || (m.toolCalls?.length ?? 0) > 0)) return msgs as PromptMessage[];
  return renderToolTurns(msgs, tools, tools.length > 0, DEFAULT_SYSTEM_PROMPT) as PromptMessage[];
}

export function checkText(s: string, field: string): void {
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch >= 0xd800 && ch <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; }
      throw invalidArgument(field, `${field} is not valid UTF-8 (unpaired surrogate at ${i})`);
    }
    if (ch >= 0xdc00 && ch <= 0xdfff) throw invalidArgument(field, `${field} is not valid UTF-8 (unpaired surrogate at ${i})`);
  }
}
