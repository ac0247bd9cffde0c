/**
 * The serving tokenizer: a pure-JS `tokenizer.json` loader (@lenml/tokenizers, a dependency-free fork
 * of transformers.js tokenizers) with MiniCPM-V's special-token ids by name and its chat template.
 * Special tokens written in the text (`<image>`, `<unk>`, …) are encoded as their single ids; no BOS
 * is added (2.6 uses plain `encode`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { ErrorCode, TesseraError } from '@tessera/runtime';
import { DEFAULT_SYSTEM_PROMPT, REQUIRED_SPECIALS, type SpecialName, type SpecialTokenIds } from './special-tokens.js';

export interface ChatMessage {
  role: string;
  content: string;
}

interface LenmlTokenizer {
  encode(text: string, opts?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], opts?: { skip_special_tokens?: boolean }): string;
}

/** Checks the parsed tokenizer files carry every special token Tessera relies on; names the file and token. */
export function validateTokenizerJson(tokenizerJson: unknown, file = 'tokenizer.json'): Map<string, number> {
  const tj = tokenizerJson as { added_tokens?: Array<{ id: number; content: string }>; model?: { vocab?: Record<string, number> } };
  if (!tj || typeof tj !== 'object' || !tj.model || typeof tj.model.vocab !== 'object') {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${file}: model.vocab is missing (not a Hugging Face tokenizer.json)`, { field: 'model.vocab', file });
  }
  const ids = new Map<string, number>();
  for (const a of tj.added_tokens ?? []) ids.set(a.content, a.id);
  for (const [name, tok] of Object.entries(REQUIRED_SPECIALS)) {
    if (!ids.has(tok)) {
      throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${file}: special token ${tok} (${name}) is missing from added_tokens; MiniCPM-V needs it`, { field: `added_tokens[${tok}]`, file, token: tok });
    }
  }
  return ids;
}

export class Tokenizer {
  private constructor(
    private readonly impl: LenmlTokenizer,
    readonly specialTokenIds: Readonly<SpecialTokenIds>,
    readonly vocabSize: number,
    readonly chatTemplate: string | undefined,
  ) {}

  /** Loads `tokenizer.json` + `tokenizer_config.json` from a checkpoint or built model directory. */
  static fromDir(dir: string): Tokenizer {
    const tjPath = join(dir, 'tokenizer.json');
    const tcPath = join(dir, 'tokenizer_config.json');
    for (const p of [tjPath, tcPath]) {
      if (!existsSync(p)) throw new TesseraError(ErrorCode.NOT_FOUND, `${p}: tokenizer file is missing`, { field: p.endsWith('config.json') ? 'tokenizer_config.json' : 'tokenizer.json', file: p });
    }
    const tj = JSON.parse(readFileSync(tjPath, 'utf8'));
    const tc = JSON.parse(readFileSync(tcPath, 'utf8'));
    return Tokenizer.fromJson(tj, tc);
  }

  static fromJson(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>): Tokenizer {
    const added = validateTokenizerJson(tokenizerJson);
    const impl = TokenizerLoader.fromPreTrained({ tokenizerJSON: tokenizerJson as never, tokenizerConfig: tokenizerConfig as never }) as unknown as LenmlTokenizer;
    const specials = {} as SpecialTokenIds;
    for (const [name, tok] of Object.entries(REQUIRED_SPECIALS)) specials[name as SpecialName] = added.get(tok)!;
    const nl = impl.encode('\n', { add_special_tokens: false });
    specials.newline = nl[0];
    const vocab = (tokenizerJson as { model: { vocab: Record<string, number> } }).model.vocab;
    let maxId = -1;
    for (const id of Object.values(vocab)) if (id > maxId) maxId = id;
    for (const id of added.values()) if (id > maxId) maxId = id;
    return new Tokenizer(impl, Object.freeze(specials), maxId + 1, typeof tokenizerConfig.chat_template === 'string' ? tokenizerConfig.chat_template : undefined);
  }

  encode(text: string): number[] {
    return this.impl.encode(text, { add_special_tokens: false });
  }

  decode(ids: ArrayLike<number>, opts: { skipSpecialTokens?: boolean } = {}): string {
    return this.impl.decode(Array.from(ids), { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /** MiniCPM-V 2.6 ChatML (same output as its Jinja `chat_template`). */
  applyChatTemplate(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
    let s = '';
    if (messages.length === 0 || messages[0].role !== 'system') s += `<|im_start|>system\n${DEFAULT_SYSTEM_PROMPT}<|im_end|>\n`;
    for (const m of messages) s += `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`;
    if (opts.addGenerationPrompt ?? true) s += '<|im_start|>assistant\n';
    return s;
  }

  /** Ids that end generation for 2.6: `<|im_end|>` and `<|endoftext|>`. */
  get stopTokenIds(): number[] {
    return [this.specialTokenIds.imEnd, this.specialTokenIds.endOfText];
  }
}
