/**
 * vLLM's tokenizer endpoints (POST /tokenize, POST /detokenize) → valid requests, or an INVALID_ARGUMENT
 * naming the field and the limit. A chat (`messages`) is read by the chat validator itself, so its
 * messages, tools, add_generation_prompt / continue_final_message and chat_template_kwargs mean what
 * they mean on /v1/chat/completions; its parts must be text (an image's or a video's tokens depend on
 * its slicing and encoding, which only a chat request runs).
 */
import { invalidArgument } from '@tessera/runtime';
import type { ChatLimits } from './limits.js';
import { asObject, int, optBool, str } from './json-fields.js';
import type { ModelFeatures } from './response-format.js';
import type { ValidChatRequest } from './valid-request.js';
import { validateChatRequest } from './validate-chat.js';

/** A chat as the prompt builders read it: messages, tools, ending and enable_thinking. */
export type TokenizeChat = Pick<ValidChatRequest, 'messages' | 'tools' | 'enableThinking' | 'ending'>;

export type ValidTokenizeRequest = {
  /** The model whose tokenizer answers (the caller resolved an omitted `model` to its default). */
  model: string;
  /** vLLM's `return_token_strs`: also each id's vocabulary entry. */
  returnTokenStrs: boolean;
} & ({ prompt: string } | { chat: TokenizeChat });

export interface ValidDetokenizeRequest {
  model: string;
  /** Non-negative ids; the vocabulary bound is checked by the tokenizer that decodes them. */
  tokens: number[];
}

/** Which model a request means (`model` omitted = the default) and what that model supports. */
export interface TokenizeModels {
  resolve(requested: string | undefined): string;
  /** What a chat for that model is checked against (an edge site tokenizes for its own model and hub models' cards). */
  features: ModelFeatures | ((model: string) => ModelFeatures);
}

/**
 * `{model?, prompt, add_special_tokens?, return_token_strs?}` or `{model?, messages, add_generation_prompt?,
 * continue_final_message?, add_special_tokens?, tools?, tool_choice?, chat_template_kwargs?, return_token_strs?}`.
 * `add_special_tokens` is checked to be a boolean and changes nothing: these Qwen2-class tokenizers add no
 * BOS or EOS (tokenizer.json's post-processor is ByteLevel alone), so vLLM's ids are the same either way.
 * A text prompt is at most `maxTextChars` characters, as on /v1/completions; it may be empty (no ids).
 */
export function validateTokenizeRequest(body: unknown, limits: ChatLimits, models: TokenizeModels): ValidTokenizeRequest {
  const root = asObject(body, 'body');
  const model = models.resolve(optModel(root));
  optBool(root.add_special_tokens, 'add_special_tokens');
  const returnTokenStrs = optBool(root.return_token_strs, 'return_token_strs') ?? false;
  const hasPrompt = root.prompt !== undefined && root.prompt !== null;
  const hasMessages = root.messages !== undefined && root.messages !== null;
  if (hasPrompt === hasMessages) {
    throw invalidArgument(hasPrompt ? 'messages' : 'prompt', hasPrompt ? 'send prompt (text) or messages (a chat), not both' : 'prompt (text) or messages (a chat) is required');
  }
  if (hasPrompt) {
    const prompt = str(root.prompt, 'prompt', true);
    if (prompt.length > limits.maxTextChars) throw invalidArgument('prompt', `prompt too long: ${prompt.length} characters`, `prompt <= ${limits.maxTextChars} characters`);
    return { model, returnTokenStrs, prompt };
  }
  const chat = validateChatRequest({ ...root, model }, limits, [model], models.features);
  const media = chat.images[0]?.field ?? chat.videos?.[0]?.field;
  if (media !== undefined) {
    throw invalidArgument(media, `${media}: /tokenize takes text-only messages; an image's or video's tokens depend on its slicing and encoding (send the chat to /v1/chat/completions: usage.prompt_tokens counts them)`);
  }
  // Retrieval writes a grounding turn from the collection's sources at request time: no fixed prompt to tokenize.
  if (chat.collection) throw invalidArgument('collection', 'collection (grounded chat) is not supported by /tokenize: the grounding turn is made from the sources retrieved for each request');
  return {
    model,
    returnTokenStrs,
    chat: { messages: chat.messages, ...(chat.tools && { tools: chat.tools }), ...(chat.enableThinking !== undefined && { enableThinking: chat.enableThinking }), ...(chat.ending && { ending: chat.ending }) },
  };
}

/** `{model?, tokens}`: at most `maxTextChars` ids (the bound of a token-id prompt on /v1/completions). */
export function validateDetokenizeRequest(body: unknown, limits: ChatLimits, models: Pick<TokenizeModels, 'resolve'>): ValidDetokenizeRequest {
  const root = asObject(body, 'body');
  const model = models.resolve(optModel(root));
  if (!Array.isArray(root.tokens)) throw invalidArgument('tokens', 'tokens must be an array of token ids');
  if (root.tokens.length > limits.maxTextChars) throw invalidArgument('tokens', `too many tokens: ${root.tokens.length}`, `tokens <= ${limits.maxTextChars}`);
  return { model, tokens: root.tokens.map((t, i) => int(t, `tokens[${i}]`, 0, 2 ** 31 - 1)) };
}

/** vLLM's optional `model`: absent or null = the server's default model. */
export function optModel(root: Record<string, unknown>): string | undefined {
  return root.model === undefined || root.model === null ? undefined : str(root.model, 'model');
}
