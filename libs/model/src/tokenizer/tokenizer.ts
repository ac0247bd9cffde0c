/**
 * The serving tokenizer: a pure-JS `tokenizer.json` loader (@lenml/tokenizers, a dependency-free fork
 * of transformers.js tokenizers) with MiniCPM-V's special-token ids by name and its chat template.
 * Special tokens written in the text (`<image>`, `<unk>`, …) are encoded as their single ids; no BOS
 * is added (2.6 uses plain `encode`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { detectFamily, type FamilyId } from '../families/registry.js';
import { ChatTemplate, type ChatMessage, type ChatTemplateOptions } from './chat-template.js';
import { REQUIRED_SPECIALS, REQUIRED_SPECIALS_4_6, type SpecialName, type SpecialTokenIds } from './special-tokens.js';

export type { ChatContentItem, ChatMessage, ChatTemplateOptions, ChatTool, ChatToolCall } from './chat-template.js';

const requiredFor = (family: FamilyId): Record<string, string> => (family === '4.6' ? REQUIRED_SPECIALS_4_6 : REQUIRED_SPECIALS);

interface LenmlTokenizer {
  encode(text: string, opts?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], opts?: { skip_special_tokens?: boolean }): string;
  model: { convert_ids_to_tokens(ids: number[]): Array<string | undefined> };
}

/** Checks the parsed tokenizer files carry every special token Tessera relies on; names the file and token. */
export function validateTokenizerJson(tokenizerJson: unknown, file = 'tokenizer.json', family: FamilyId = '2.6'): Map<string, number> {
  const tj = tokenizerJson as { added_tokens?: Array<{ id: number; content: string }>; model?: { vocab?: Record<string, number> } };
  if (!tj || typeof tj !== 'object' || !tj.model || typeof tj.model.vocab !== 'object') {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${file}: model.vocab is missing (not a Hugging Face tokenizer.json)`, { field: 'model.vocab', file });
  }
  const ids = new Map<string, number>();
  for (const a of tj.added_tokens ?? []) ids.set(a.content, a.id);
  for (const [name, tok] of Object.entries(requiredFor(family))) {
    if (!ids.has(tok)) {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${file}: special token ${tok} (${name}) is missing from added_tokens; MiniCPM-V ${family} needs it`, { field: `added_tokens[${tok}]`, file, token: tok });
    }
  }
  return ids;
}

export class Tokenizer {
  private constructor(
    private readonly impl: LenmlTokenizer,
    readonly specialTokenIds: Readonly<SpecialTokenIds>,
    readonly vocabSize: number,
    private readonly template: ChatTemplate,
    readonly family: FamilyId,
  ) {}

  /** The checkpoint's chat_template source, undefined when it ships none. */
  get chatTemplate(): string | undefined {
    return this.template.source;
  }

  /** Loads `tokenizer.json` + `tokenizer_config.json` from a checkpoint or built model directory. */
  static fromDir(dir: string): Tokenizer {
    const tjPath = join(dir, 'tokenizer.json');
    const tcPath = join(dir, 'tokenizer_config.json');
    for (const p of [tjPath, tcPath]) {
      if (!existsSync(p)) throw new TesseraError(ErrorCode.NOT_FOUND, `${p}: tokenizer file is missing`, { field: p.endsWith('config.json') ? 'tokenizer_config.json' : 'tokenizer.json', file: p });
    }
    const tj = JSON.parse(readFileSync(tjPath, 'utf8'));
    const tc = JSON.parse(readFileSync(tcPath, 'utf8'));
    const cfgPath = join(dir, 'config.json');
    const family = existsSync(cfgPath) ? detectFamily(JSON.parse(readFileSync(cfgPath, 'utf8')), cfgPath).id : '2.6';
    return Tokenizer.fromJson(tj, tc, family);
  }

  static fromJson(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>, family: FamilyId = '2.6'): Tokenizer {
    const added = validateTokenizerJson(tokenizerJson, 'tokenizer.json', family);
    const impl = TokenizerLoader.fromPreTrained({ tokenizerJSON: tokenizerJson as never, tokenizerConfig: tokenizerConfig as never }) as unknown as LenmlTokenizer;
    const specials = {} as SpecialTokenIds;
    for (const [name, tok] of Object.entries(requiredFor(family))) specials[name as SpecialName] = added.get(tok)!;
    specials.placeholder = family === '4.6' ? specials.imagePad! : specials.unk!;
    const nl = impl.encode('\n', { add_special_tokens: false });
    specials.newline = nl[0];
    const vocab = (tokenizerJson as { model: { vocab: Record<string, number> } }).model.vocab;
    let maxId = -1;
    for (const id of Object.values(vocab)) if (id > maxId) maxId = id;
    for (const id of added.values()) if (id > maxId) maxId = id;
    const tok = new Tokenizer(impl, Object.freeze(specials), maxId + 1, new ChatTemplate(tokenizerConfig), family);
    tok.sourceJson = tokenizerJson;
    tok.sourceConfig = tokenizerConfig;
    tok.added = added;
    return tok;
  }

  encode(text: string): number[] {
    return this.impl.encode(text, { add_special_tokens: false });
  }

  /**
   * Plain text → ids with added-token spellings kept as text (user content: typing "<|im_end|>" must not
   * produce the control token). A second BPE without added tokens, built on first use.
   */
  encodePlain(text: string): number[] {
    if (text.length === 0) return [];
    this.plainImpl ??= TokenizerLoader.fromPreTrained({
      tokenizerJSON: { ...this.sourceJson, added_tokens: [] } as never,
      tokenizerConfig: { ...this.sourceConfig, added_tokens_decoder: {} } as never,
    }) as unknown as LenmlTokenizer;
    return this.plainImpl.encode(text, { add_special_tokens: false });
  }
  private plainImpl: LenmlTokenizer | undefined;
  private sourceJson: Record<string, unknown> = {};
  private sourceConfig: Record<string, unknown> = {};

  /** Id of an added token by its spelling, or undefined. */
  addedTokenId(spelling: string): number | undefined {
    return this.added.get(spelling);
  }
  /** Every added token spelling (control tokens), longest first — for splitting rendered templates. */
  get addedTokens(): string[] {
    return [...this.added.keys()].sort((a, b) => b.length - a.length);
  }
  private added = new Map<string, number>();

  /**
   * The vocabulary entry of an id as HF's `convert_ids_to_tokens` gives it (byte-level spelling, `Ġ` for
   * a space; added tokens as written), or undefined for an id the tokenizer does not have.
   */
  tokenString(id: number): string | undefined {
    return this.impl.model.convert_ids_to_tokens([id])[0] ?? undefined;
  }

  decode(ids: ArrayLike<number>, opts: { skipSpecialTokens?: boolean } = {}): string {
    return this.impl.decode(Array.from(ids), { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /**
   * Renders the checkpoint's own `chat_template` (tokenizer_config.json) with @huggingface/jinja, the
   * Jinja implementation transformers.js uses. A tokenizer without a template is refused (no guessing).
   */
  applyChatTemplate(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
    return this.template.render(messages, opts);
  }

  /** Ids that end a chat turn: `<|im_end|>` and `<|endoftext|>` (both families; generation_config.json may add more). */
  get stopTokenIds(): number[] {
    return [this.specialTokenIds.imEnd, this.specialTokenIds.endOfText];
  }
}
