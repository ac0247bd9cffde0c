/**
 * `@tessera/model/text`: the part of the model library a process needs without running the model —
 * the tokenizer, the chat template, the manifest and the family registry. Nothing reachable from here
 * imports onnxruntime-node, so the gateway (chat template, prompt estimate, model catalog) does not
 * carry it in its image (scripts/prune-deps.mjs follows this entry, not the package's index).
 * services/gateway/src/image-deps.test.ts fails if the gateway's import graph reaches onnxruntime again.
 */
export { Tokenizer, type ChatMessage } from './tokenizer/tokenizer.js';
export { ChatTemplate, type ChatTemplateOptions, type ChatContentItem, type ChatTool, type ChatToolCall } from './tokenizer/chat-template.js';
// The 4.6 prompt builder (template + tools + <|image_pad|> expansion): the gateway counts prompts with it.
export { buildPromptIds46, templateTool, templateToolCalls, type Image46, type Prompt46Tokenizer, type Prompt46Ids } from './families/minicpmv4_6/prompt46.js';
// The 4.5 prompt builder (Qwen3 template + the 2.6 image layout), for the same count.
export { buildPromptIds45 } from './families/minicpmv4_5/prompt45.js';
export { REQUIRED_SPECIALS, ADDED_TOKENS_2_6, CHAT_TEMPLATE_2_6, type SpecialTokenIds } from './tokenizer/special-tokens.js';
export { readManifest, readAnyManifest, manifestFamily, STAGES, type Manifest, type Manifest46, type AnyManifest, type StageManifest, type StageName } from './manifest.js';
// The checkpoint config readers (the decoder's context length is max_position_embeddings): the gateway's max_model_len.
export { parseConfig } from './checkpoint/config.js';
export { parseConfig46 } from './families/minicpmv4_6/config.js';
export { FAMILIES, detectFamily, resolveTokenMode, type FamilyId, type FamilySpec, type TokenMode } from './families/registry.js';
