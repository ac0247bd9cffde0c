/**
 * MiniCPM-V 4.6 prompt ids: the checkpoint's own chat template (Jinja, Tokenizer.applyChatTemplate) with
 * one `<|image_pad|>` per image item, then each image expanded as the 4.6 processor does (T46P; reference
 * doc §5) — the 2.6 layout with `<|image_pad|>` slots and per-crop counts:
 *   [<image_id>k</image_id>]<image>{pad × n_overview}</image>  then, with a grid, rows joined by "\n",
 *   each row = cols × <slice>{pad × n_slice}</slice>
 * n = (H/56)·(W/56) per crop in 16x, (H/28)·(W/28) in 4x (the slicer's plan gives them: tokensPerImage).
 * User text that spells an added token is encoded with added tokens off (a typed "<|im_end|>" stays
 * text, like HF's split_special_tokens for user content); everything else — template text and ordinary
 * user text — goes through the template as HF renders it and is encoded with added tokens on, so the ids
 * equal HF's encode of the rendered string (BPE merges across the template/content boundary included).
 * Tools and assistant tool calls are rendered by the template itself (its tools section, `tool|tojson`,
 * `<parameter=…>` values): a tool definition or argument that spells an added token is refused, naming
 * the field, since there it could only become a control token. Video is not handled here.
 * `buildRawPromptIds46` is the same expansion without a chat template (decoding.v1 raw `prompt` parts).
 */
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { ChatContentItem, ChatMessage, ChatTool, ChatToolCall, Tokenizer } from '../../tokenizer/tokenizer.js';

/** What prompt assembly needs of a tokenizer (the model library's Tokenizer, or the decoder's own). */
export type Prompt46Tokenizer = Pick<Tokenizer, 'applyChatTemplate' | 'addedTokenId' | 'addedTokens' | 'encodePlain'>;

export interface Image46 {
  /** Tokens per crop: overview first, then slices row-major (libs/vision planTokens). */
  tokensPerImage: number[];
  /** Slice grid, or null when the image is the overview only. */
  grid: { rows: number; cols: number } | null;
  /** `<image_id>k</image_id>` before this image; default Prompt46Options.useImageId. */
  useImageId?: boolean;
}

export interface Prompt46Options {
  addGenerationPrompt?: boolean;
  enableThinking?: boolean;
  /** `<image_id>k</image_id>` before each image (processor default true). */
  useImageId?: boolean;
  /** Tools for the template's tools section (HF `tools`); none = no section. */
  tools?: ChatTool[];
  /** HF's `continue_final_message`: the last message is left open (set addGenerationPrompt false). */
  continueFinalMessage?: boolean;
}

export interface Prompt46Ids {
  ids: number[];
  /** Positions of the `<|image_pad|>` slots, ascending: image 0's overview, its slices row-major, image 1, … */
  imagePadPositions: number[];
}

const OPEN = '\u0001';
const CLOSE = '\u0002';

/**
 * Accumulates ids: template text (added tokens by id), user text (plain), and expanded images. The
 * placeholder spelling is the family's (4.6 `<|image_pad|>`, 4.5 `<unk>`); the layout is the same.
 */
class PromptIds {
  readonly ids: number[] = [];
  readonly pads: number[] = [];
  private image = 0;
  private readonly pad: number;
  private specials: RegExp | undefined;

  constructor(
    private readonly tok: Prompt46Tokenizer,
    private readonly images: Image46[],
    private readonly useImageId: boolean,
    private readonly padSpelling = '<|image_pad|>',
  ) {
    this.pad = this.control(padSpelling);
  }

  control(s: string): number {
    const id = this.tok.addedTokenId(s);
    if (id === undefined) throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `tokenizer.json: added token ${s} is missing`, { field: `added_tokens[${s}]` });
    return id;
  }

  /**
   * User text: added-token spellings stay text. Text runs are buffered and encoded together with the
   * template text around them up to the next control token, as HF encodes the rendered string: a run
   * split at a user/template boundary would tokenise differently ("42." + "\n" vs ".\n" as one id).
   */
  plain(s: string): void {
    this.text += s;
  }

  /** Template-made text: added tokens by id, the rest through the BPE (buffered with adjacent user text). */
  template(s: string): void {
    this.specials ??= new RegExp(this.tok.addedTokens.map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
    let last = 0;
    for (const m of s.matchAll(this.specials)) {
      if (m[0] === this.padSpelling) throw new Error('unreachable: image placeholders are split out first');
      this.text += s.slice(last, m.index);
      this.flush();
      this.ids.push(this.control(m[0]));
      last = m.index! + m[0].length;
    }
    this.text += s.slice(last);
  }

  private text = '';
  private flush(): void {
    if (this.text) this.ids.push(...this.tok.encodePlain(this.text));
    this.text = '';
  }

  /** The next image, expanded as the 4.6 processor (and 2.6 / 4.5's get_slice_image_placeholder) does. */
  nextImage(): void {
    const k = this.image;
    const img = this.images[k];
    if (!img) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `messages: image ${k} has no slice plan (${this.images.length} given)`, { field: 'images' });
    const expected = 1 + (img.grid ? img.grid.rows * img.grid.cols : 0);
    if (img.tokensPerImage.length !== expected) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `images[${k}].tokensPerImage has ${img.tokensPerImage.length} entries, the grid needs ${expected}`, { field: `images[${k}].tokensPerImage` });
    this.flush();
    const { ids } = this;
    if (img.useImageId ?? this.useImageId) ids.push(this.control('<image_id>'), ...this.tok.encodePlain(String(k)), this.control('</image_id>'));
    ids.push(this.control('<image>'));
    this.slots(img.tokensPerImage[0]);
    ids.push(this.control('</image>'));
    if (img.grid) {
      let j = 1;
      for (let r = 0; r < img.grid.rows; r++) {
        if (r > 0) ids.push(...this.tok.encodePlain('\n'));
        for (let c = 0; c < img.grid.cols; c++) {
          ids.push(this.control('<slice>'));
          this.slots(img.tokensPerImage[j++]);
          ids.push(this.control('</slice>'));
        }
      }
    }
    this.image++;
  }

  done(): Prompt46Ids {
    this.flush();
    if (this.image !== this.images.length) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `messages have ${this.image} image(s) but ${this.images.length} slice plan(s) were given`, { field: 'images' });
    return { ids: this.ids, imagePadPositions: this.pads };
  }

  private slots(n: number): void {
    for (let i = 0; i < n; i++) {
      this.pads.push(this.ids.length);
      this.ids.push(this.pad);
    }
  }
}

/** How a family renders chat messages before image expansion. */
export interface TemplateLayout {
  /** Per-visual-token placeholder written by the expansion. */
  pad: string;
  /** What the rendered template holds where an image goes (split out and expanded). */
  marker: string;
  /** Message content for the template, with user text already swapped for markers by `mark`. */
  content(m: ChatMessage, mark: (t: string) => string): ChatMessage['content'];
}

/** 4.6: content items stay items; the Qwen3.5 template writes one `<|image_pad|>` per image item. */
const LAYOUT_46: TemplateLayout = {
  pad: '<|image_pad|>',
  marker: '<|image_pad|>',
  content: (m, mark) => (typeof m.content === 'string' ? mark(m.content) : m.content.map((it): ChatContentItem => (it.type === 'text' ? { type: 'text', text: mark(it.text) } : it))),
};

export function buildPromptIds46(tok: Prompt46Tokenizer, messages: ChatMessage[], images: Image46[], opts: Prompt46Options = {}): Prompt46Ids {
  return buildTemplatePromptIds(tok, messages, images, opts, LAYOUT_46);
}

/**
 * Spellings Qwen3-style templates inspect in message text (history reasoning is cut at `</think>`, a user
 * turn that is a `<tool_response>` is not the last query): kept outside the markers, like the newlines
 * around each piece (the template strips them), so the template sees what HF's does. They become their
 * (non-special) added tokens, as in HF; every other added-token spelling in message text stays text.
 */
const TEMPLATE_VISIBLE = /(<think>|<\/think>|<tool_response>|<\/tool_response>)/;

/**
 * The checkpoint's chat template renders the messages (message text swapped for markers so template text
 * and user text stay apart), then each image marker is expanded in order.
 */
export function buildTemplatePromptIds(tok: Prompt46Tokenizer, messages: ChatMessage[], images: Image46[], opts: Prompt46Options, layout: TemplateLayout): Prompt46Ids {
  const specials = addedSpellings(tok);
  refuseSpellings(specials, opts.tools ?? [], messages);
  const texts: string[] = [];
  // Only a piece that spells an added token (or a marker character) needs a marker; any other text
  // renders as it is, so the template (trim, startswith) and the BPE see exactly what HF's do.
  const mark = (t: string): string =>
    t
      .split(TEMPLATE_VISIBLE)
      .map((piece, i) => {
        if (i % 2 === 1 || !(specials.test(piece) || /[\u0001\u0002]/.test(piece))) return piece;
        const m = /^(\n*)([\s\S]*?)(\n*)$/.exec(piece)!;
        return m[2] ? `${m[1]}${OPEN}${texts.push(m[2]) - 1}${CLOSE}${m[3]}` : piece;
      })
      .join('');
  const marked: ChatMessage[] = messages.map((m) => ({ ...m, content: layout.content(m, mark) }));
  const whole = tok.applyChatTemplate(marked, { addGenerationPrompt: opts.addGenerationPrompt, enableThinking: opts.enableThinking, ...(opts.tools && opts.tools.length > 0 && { tools: opts.tools }) });
  const rendered = opts.continueFinalMessage ? cutAfterFinalText(whole, marked.at(-1)) : whole;
  const out = new PromptIds(tok, images, opts.useImageId ?? true, layout.pad);
  const markerRe = layout.marker.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const part of rendered.split(new RegExp(`(${OPEN}\\d+${CLOSE}|${markerRe})`))) {
    if (part === '') continue;
    if (part === layout.marker) {
      out.nextImage();
      continue;
    }
    const m = new RegExp(`^${OPEN}(\\d+)${CLOSE}$`).exec(part);
    if (m) out.plain(texts[Number(m[1])]);
    else out.template(part);
  }
  return out.done();
}

/**
 * HF's apply_chat_template(continue_final_message=True): the rendered chat up to the end of the last
 * occurrence of the final message's text (its last text item), stripped of surrounding whitespace, so
 * the template's end-of-turn after it is gone and the model continues the text.
 */
function cutAfterFinalText(rendered: string, final: ChatMessage | undefined): string {
  const content = final?.content ?? '';
  const last = typeof content === 'string' ? content : [...content].reverse().find((it): it is Extract<ChatContentItem, { type: 'text' }> => it.type === 'text')?.text;
  const text = (last ?? '').trim();
  const at = text ? rendered.lastIndexOf(text) : -1;
  if (at < 0) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, 'continue_final_message: the last message has no text the rendered chat shows, so there is nothing to continue', { field: 'continue_final_message' });
  return rendered.slice(0, at + text.length);
}

const spellingCache = new WeakMap<object, RegExp>();
function addedSpellings(tok: Prompt46Tokenizer): RegExp {
  let re = spellingCache.get(tok);
  if (!re) {
    re = new RegExp(tok.addedTokens.map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));
    spellingCache.set(tok, re);
  }
  return re;
}

/** Tool definitions and call arguments are template text: an added-token spelling there would become a control token. */
function refuseSpellings(specials: RegExp, tools: readonly ChatTool[], messages: readonly ChatMessage[]): void {
  const check = (v: unknown, field: string): void => {
    const text = JSON.stringify(v);
    const hit = specials.exec(text);
    if (hit) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${field} contains "${hit[0]}", a control token of this model's tokenizer; tool definitions and call arguments may not spell control tokens`, { field });
  };
  tools.forEach((t, i) => check(t, `tools[${i}]`));
  messages.forEach((m, i) => m.tool_calls?.forEach((c, j) => check(c, `messages[${i}].tool_calls[${j}]`)));
}

/** Without a chat template: text items verbatim (as user text), each image item expanded in order. */
export function buildRawPromptIds46(tok: Prompt46Tokenizer, items: Array<{ type: 'text'; text: string } | { type: 'image' }>, images: Image46[], opts: Pick<Prompt46Options, 'useImageId'> = {}): Prompt46Ids {
  const out = new PromptIds(tok, images, opts.useImageId ?? true);
  for (const it of items) {
    if (it.type === 'image') out.nextImage();
    else out.plain(it.text);
  }
  return out.done();
}

/**
 * OpenAI-shaped tool calls ({name, arguments as JSON text}) → what HF templates read: `arguments` as
 * an object (vLLM parses the JSON text before rendering, since Qwen templates iterate `arguments|items`).
 * Text that is not a JSON object is refused, naming `field(j)`. Shared by the decoder (prompt) and the
 * gateway (exact prompt count for admission).
 */
export function templateToolCalls(calls: ReadonlyArray<{ name: string; argumentsJson: string }>, field: (j: number) => string): ChatToolCall[] {
  return calls.map((c, j) => {
    let args: unknown;
    try {
      args = c.argumentsJson.trim() === '' ? {} : JSON.parse(c.argumentsJson);
    } catch {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `the arguments of call ${j} ("${c.name}") are not valid JSON`, { field: field(j) });
    }
    if (args === null || typeof args !== 'object' || Array.isArray(args)) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `the arguments of call ${j} ("${c.name}") must be a JSON object`, { field: field(j) });
    return { type: 'function' as const, function: { name: c.name, arguments: args as Record<string, unknown> } };
  });
}

/** A tool as the OpenAI request had it ({name, description, parameters as JSON text}); description and parameters only when given. */
export function templateTool(t: { name: string; description: string; parametersJson: string }, field: string): ChatTool {
  let parameters: Record<string, unknown> | undefined;
  if (t.parametersJson) {
    try {
      parameters = JSON.parse(t.parametersJson) as Record<string, unknown>;
    } catch {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `the parameters of tool "${t.name}" are not valid JSON`, { field });
    }
  }
  return { type: 'function', function: { name: t.name, ...(t.description && { description: t.description }), ...(parameters && { parameters }) } };
}
