/**
 * MiniCPM-V 4.6 prompt ids: the checkpoint's own chat template (Jinja, Tokenizer.applyChatTemplate) with
 * one `<|image_pad|>` per image item, then each image expanded as the 4.6 processor does (T46P; reference
 * doc §5) — the 2.6 layout with `<|image_pad|>` slots and per-crop counts:
 *   [<image_id>k</image_id>]<image>{pad × n_overview}</image>  then, with a grid, rows joined by "\n",
 *   each row = cols × <slice>{pad × n_slice}</slice>
 * n = (H/56)·(W/56) per crop in 16x, (H/28)·(W/28) in 4x (the slicer's plan gives them: tokensPerImage).
 * User text is encoded with added tokens off (a typed "<|im_end|>" stays text, like HF's
 * split_special_tokens for user content); template text with them on. Video is not handled here.
 * `buildRawPromptIds46` is the same expansion without a chat template (decoding.v1 raw `prompt` parts).
 */
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { ChatContentItem, ChatMessage, Tokenizer } from '../../tokenizer/tokenizer.js';

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
}

export interface Prompt46Ids {
  ids: number[];
  /** Positions of the `<|image_pad|>` slots, ascending: image 0's overview, its slices row-major, image 1, … */
  imagePadPositions: number[];
}

const OPEN = '\u0001';
const CLOSE = '\u0002';

/** Accumulates ids: template text (added tokens by id), user text (plain), and expanded images. */
class Ids46 {
  readonly ids: number[] = [];
  readonly pads: number[] = [];
  private image = 0;
  private readonly pad: number;
  private specials: RegExp | undefined;

  constructor(
    private readonly tok: Prompt46Tokenizer,
    private readonly images: Image46[],
    private readonly useImageId: boolean,
  ) {
    this.pad = this.control('<|image_pad|>');
  }

  control(s: string): number {
    const id = this.tok.addedTokenId(s);
    if (id === undefined) throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `tokenizer.json: added token ${s} is missing`, { field: `added_tokens[${s}]` });
    return id;
  }

  /** User text: added-token spellings stay text. */
  plain(s: string): void {
    this.ids.push(...this.tok.encodePlain(s));
  }

  /** Template-made text: added tokens by id, the rest through the BPE. */
  template(s: string): void {
    this.specials ??= new RegExp(this.tok.addedTokens.map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
    let last = 0;
    for (const m of s.matchAll(this.specials)) {
      if (m[0] === '<|image_pad|>') throw new Error('unreachable: image pads are split out first');
      this.ids.push(...this.tok.encodePlain(s.slice(last, m.index)), this.control(m[0]));
      last = m.index! + m[0].length;
    }
    this.ids.push(...this.tok.encodePlain(s.slice(last)));
  }

  /** The next image, expanded as the 4.6 processor does. */
  nextImage(): void {
    const k = this.image;
    const img = this.images[k];
    if (!img) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `messages: image ${k} has no slice plan (${this.images.length} given)`, { field: 'images' });
    const expected = 1 + (img.grid ? img.grid.rows * img.grid.cols : 0);
    if (img.tokensPerImage.length !== expected) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `images[${k}].tokensPerImage has ${img.tokensPerImage.length} entries, the grid needs ${expected}`, { field: `images[${k}].tokensPerImage` });
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

export function buildPromptIds46(tok: Prompt46Tokenizer, messages: ChatMessage[], images: Image46[], opts: Prompt46Options = {}): Prompt46Ids {
  // Swap user-controlled text for markers so the rendered string separates template text from user text.
  const texts: string[] = [];
  const mark = (t: string): string => `${OPEN}${texts.push(t) - 1}${CLOSE}`;
  const marked: ChatMessage[] = messages.map((m) => ({
    role: m.role,
    content: typeof m.content === 'string' ? mark(m.content) : m.content.map((it): ChatContentItem => (it.type === 'text' ? { type: 'text', text: mark(it.text) } : it)),
  }));
  const rendered = tok.applyChatTemplate(marked, { addGenerationPrompt: opts.addGenerationPrompt, enableThinking: opts.enableThinking });
  const out = new Ids46(tok, images, opts.useImageId ?? true);
  for (const part of rendered.split(new RegExp(`(${OPEN}\\d+${CLOSE}|<\\|image_pad\\|>)`))) {
    if (part === '') continue;
    if (part === '<|image_pad|>') {
      out.nextImage();
      continue;
    }
    const m = new RegExp(`^${OPEN}(\\d+)${CLOSE}$`).exec(part);
    if (m) out.plain(texts[Number(m[1])]);
    else out.template(part);
  }
  return out.done();
}

/** Without a chat template: text items verbatim (as user text), each image item expanded in order. */
export function buildRawPromptIds46(tok: Prompt46Tokenizer, items: Array<{ type: 'text'; text: string } | { type: 'image' }>, images: Image46[], opts: Pick<Prompt46Options, 'useImageId'> = {}): Prompt46Ids {
  const out = new Ids46(tok, images, opts.useImageId ?? true);
  for (const it of items) {
    if (it.type === 'image') out.nextImage();
    else out.plain(it.text);
  }
  return out.done();
}
