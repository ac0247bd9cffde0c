/**
 * MiniCPM-V 2.6's added tokens (reference/minicpmv_checkpoint.md §3.2): 23 ids 151643…151665 after the
 * 151,643 Qwen2 BPE entries, plus `<unk>` at 128244 — an ordinary BPE entry the real tokenizer marks
 * special and uses as the image placeholder.
 */
export const ADDED_TOKENS_2_6: ReadonlyArray<readonly [number, string]> = [
  [151643, '<|endoftext|>'],
  [151644, '<|im_start|>'],
  [151645, '<|im_end|>'],
  [151646, '<image>'],
  [151647, '</image>'],
  [151648, '<ref>'],
  [151649, '</ref>'],
  [151650, '<box>'],
  [151651, '</box>'],
  [151652, '<quad>'],
  [151653, '</quad>'],
  [151654, '<point>'],
  [151655, '</point>'],
  [151656, '<slice>'],
  [151657, '</slice>'],
  [151658, '<image_id>'],
  [151659, '</image_id>'],
  [151660, '<|reserved_special_token_0|>'],
  [151661, '<|reserved_special_token_1|>'],
  [151662, '<|reserved_special_token_2|>'],
  [151663, '<|reserved_special_token_3|>'],
  [151664, '<|reserved_special_token_4|>'],
  [151665, '<|reserved_special_token_5|>'],
];
export const UNK_TOKEN: readonly [number, string] = [128244, '<unk>'];

/** The chat and image-layout tokens every MiniCPM-V family shares. */
const SHARED_SPECIALS = {
  endOfText: '<|endoftext|>',
  imStart: '<|im_start|>',
  imEnd: '<|im_end|>',
  image: '<image>',
  imageEnd: '</image>',
  slice: '<slice>',
  sliceEnd: '</slice>',
  imageId: '<image_id>',
  imageIdEnd: '</image_id>',
} as const;
/** The tokens Tessera needs by name; a tokenizer lacking any of them is refused. */
export const REQUIRED_SPECIALS = { ...SHARED_SPECIALS, unk: '<unk>' } as const;
/** MiniCPM-V 4.6: the image placeholder is `<|image_pad|>`; there is no `<unk>`. */
export const REQUIRED_SPECIALS_4_6 = { ...SHARED_SPECIALS, imagePad: '<|image_pad|>' } as const;
export type SpecialName = keyof typeof REQUIRED_SPECIALS | keyof typeof REQUIRED_SPECIALS_4_6;
type Common = Exclude<SpecialName, 'unk' | 'imagePad'>;
/**
 * Ids by name. `placeholder` is the per-visual-token placeholder of the family (2.6 `<unk>`, 4.6
 * `<|image_pad|>`); `unk` exists for 2.6 only, `imagePad` for 4.6 only.
 */
export type SpecialTokenIds = Record<Common | 'newline' | 'placeholder', number> & { unk?: number; imagePad?: number };

/** ChatML as MiniCPM-V 2.6 uses it: a default system turn when the first message is not `system`. */
export const CHAT_TEMPLATE_2_6 =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}" +
  "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}" +
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export const DEFAULT_SYSTEM_PROMPT = 'You are a helpful assistant.';
