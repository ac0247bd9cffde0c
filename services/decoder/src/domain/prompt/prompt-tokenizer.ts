/**
 * Tokenisation for prompt assembly. Two views of one `tokenizer.json`:
 *  - control tokens (`<|im_start|>`, `<image>`, `<unk>`, …) are inserted by id, by the template only;
 *  - every text run between them is encoded with the added tokens switched off, so a user who types
 *    "<|im_end|>" or "<image>" gets plain text tokens, never a control token (HF's
 *    `split_special_tokens=True` behaviour for user text; the contract requires it).
 * Text runs are the same spans HF gets after splitting on added tokens, so ids match HF's encode.
 * It also renders the checkpoint's chat template (MiniCPM-V 4.6 prompts go through it; 2.6's ChatML is
 * assembled in assemble-prompt.ts), so one tokenizer load serves both families.
 */
import { TokenizerLoader } from '@lenml/tokenizers';
import { ChatTemplate, type ChatMessage, type ChatTemplateOptions } from '@tessera/model';
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
    private readonly template: ChatTemplate,
  ) {
    this.addedTokens = [...specials.keys()].sort((a, b) => b.length - a.length);
  }

  /** Every added token spelling, longest first (for splitting rendered templates). */
  readonly addedTokens: string[];

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
    return new PromptTokenizer(plain, new Map(added.map((a) => [a.content, a.id])), byteLevelTokenBytes(Object.entries(vocab), added, size), size, new ChatTemplate(tokenizerConfig));
  }

  /** Plain text → ids; special-token spellings inside it stay text. */
  encodeText(text: string): number[] {
    return text.length === 0 ? [] : this.plain.encode(text, { add_special_tokens: false });
  }

  /** Same as encodeText (the name the 4.6 prompt builder uses). */
  encodePlain(text: string): number[] {
    return this.encodeText(text);
  }

  /** Id of an added token by its spelling, or undefined. */
  addedTokenId(spelling: string): number | undefined {
    return this.specials.get(spelling);
  }

  /** The checkpoint's own chat template (tokenizer_config.json `chat_template`). */
  applyChatTemplate(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
    return this.template.render(messages, opts);
  }

  /** Id of a control token by its spelling (`<|im_start|>`); throws when the vocabulary lacks it. */
  control(spelling: string): number {
    const id = this.specials.get(spelling);
    if (id === undefined) throw new Error(`tokenizer has no control token ${spelling}`);
    return id;
  }
}
