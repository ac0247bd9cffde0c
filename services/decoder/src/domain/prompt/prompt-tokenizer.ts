/**
 * Tokenisation for prompt assembly. Two views of one `tokenizer.json`:
 *  - control tokens (`<|im_start|>`, `<image>`, `<unk>`, …) are inserted by id, by the template only;
 *  - every text run between them is encoded with the added tokens switched off, so a user who types
 *    "<|im_end|>" or "<image>" gets plain text tokens, never a control token (HF's
 *    `split_special_tokens=True` behaviour for user text; the contract requires it).
 * Text runs are the same spans HF gets after splitting on added tokens, so ids match HF's encode.
 */
import { TokenizerLoader } from '@lenml/tokenizers';
import { byteLevelTokenBytes, type TokenBytes } from '../engine/detokenizer.js';

interface LenmlTokenizer {
  encode(text: string, opts?: { add_special_tokens?: boolean }): number[];
}

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
}

export class PromptTokenizer {
  private constructor(
    private readonly plain: LenmlTokenizer,
    private readonly specials: ReadonlyMap<string, number>,
    readonly tokenBytes: TokenBytes,
    readonly vocabSize: number,
  ) {}

  static fromJson(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>): PromptTokenizer {
    const added = ((tokenizerJson.added_tokens ?? []) as AddedToken[]).map((a) => ({ id: a.id, content: a.content, special: a.special !== false }));
    const plain = TokenizerLoader.fromPreTrained({
      tokenizerJSON: { ...tokenizerJson, added_tokens: [] } as never,
      tokenizerConfig: { ...tokenizerConfig, added_tokens_decoder: {} } as never,
    }) as unknown as LenmlTokenizer;
    const vocab = (tokenizerJson.model as { vocab: Record<string, number> }).vocab;
    let size = 0;
    for (const id of Object.values(vocab)) size = Math.max(size, id + 1);
    for (const a of added) size = Math.max(size, a.id + 1);
    return new PromptTokenizer(plain, new Map(added.map((a) => [a.content, a.id])), byteLevelTokenBytes(Object.entries(vocab), added, size), size);
  }

  /** Plain text → ids; special-token spellings inside it stay text. */
  encodeText(text: string): number[] {
    return text.length === 0 ? [] : this.plain.encode(text, { add_special_tokens: false });
  }

  /** Id of a control token by its spelling (`<|im_start|>`); throws when the vocabulary lacks it. */
  control(spelling: string): number {
    const id = this.specials.get(spelling);
    if (id === undefined) throw new Error(`tokenizer has no control token ${spelling}`);
    return id;
  }
}
