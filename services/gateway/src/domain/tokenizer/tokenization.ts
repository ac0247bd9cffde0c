/**
 * vLLM's tokenizer endpoints over the served model's tokenizer (what lm-evaluation-harness's remote
 * tokenizer calls): the ids the decoder builds for a prompt, ids back to text, and the tokenizer's
 * configuration. The ids are the decoder's, not a plain `encode`: a text prompt is one run with
 * added-token spellings kept as text (a typed `<|im_end|>` is text on /v1/completions too), and a chat
 * is the family's prompt builder (prompt-estimate.ts chatPromptIds), so `count` is the
 * `usage.prompt_tokens` the same prompt gets.
 *
 * This gateway's own model, and at an edge site each hub model whose card the site holds (route
 * "stages": its manifest, config and tokenizer), have their tokenizer here. Other hub models' tokenizers
 * live at the hub: they are refused naming `model` (FAILED_PRECONDITION, 400) rather than answered with
 * the wrong vocabulary.
 */
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { TokenizeModels, ValidDetokenizeRequest, ValidTokenizeRequest } from '../openai/validate-tokenize.js';
import { modelFeatures, type ModelFeatures } from '../openai/response-format.js';
import type { ModelInfo } from '../orchestrator/model-catalog.js';
import { chatPromptIds } from '../orchestrator/prompt-estimate.js';
import { unknownModel } from '../openai/validate-common.js';

export interface TokenizationOptions {
  /** Every model id this gateway answers for (an edge site: its own and the hub's). */
  models: () => readonly string[];
  /** For the 404 of an unknown model: where each model runs (edge sites); default: the ids. */
  whereModelsRun?: () => string;
  /** What the served model supports (tool calls), for a chat's `tools`. */
  features: ModelFeatures;
  /**
   * The decoder's TESSERA_DECODER_MAX_CONTEXT: max_model_len is the smaller of it and the model's
   * positions (for a hub model's card too: this gateway's setting stands for the hub decoder's).
   */
  decoderMaxContext: number;
  /** Edge site: the cards of hub models it orchestrates itself (route "stages"), by id. */
  cards?: ReadonlyMap<string, ModelInfo>;
  /** The decoder's TESSERA_DECODER_ENABLE_THINKING: a 4.5 / 4.6 chat's enable_thinking when the request sets none. */
  decoderEnableThinking: boolean;
}

/** vLLM's TokenizeResponse. */
export interface TokenizeResult {
  count: number;
  max_model_len: number;
  tokens: number[];
  /** Each id's vocabulary entry (`return_token_strs`), else null. */
  token_strs: string[] | null;
}

export class Tokenization implements TokenizeModels {
  constructor(
    private readonly model: ModelInfo,
    private readonly o: TokenizationOptions,
  ) {}

  /** What a request for `id` is checked against: this gateway's own features, or a card's family. */
  readonly features = (id: string): ModelFeatures => {
    const card = this.o.cards?.get(id);
    return card ? modelFeatures(card.family) : this.o.features;
  };

  /** The model a request means: omitted = this gateway's own (TESSERA_GATEWAY_MODEL_ID), the one /v1/models lists first. */
  resolve(requested: string | undefined): string {
    const id = requested ?? this.model.id;
    if (id === this.model.id || this.o.cards?.has(id)) return id;
    const known = this.o.models();
    if (!known.includes(id)) {
      throw unknownModel(id, known, this.o.whereModelsRun?.());
    }
    throw new TesseraError(ErrorCode.FAILED_PRECONDITION, `model "${id}" runs at the hub, whose tokenizer this site's gateway does not have (it has "${this.model.id}"'s, and the cards of hub models with route "stages"); tokenize for "${id}" at the hub's gateway`, { field: 'model' });
  }

  /** A resolved id's model: this gateway's own or a hub model's card. */
  private modelOf(id: string): ModelInfo {
    return this.o.cards?.get(id) ?? this.model;
  }

  /** The decoder's context for a model: min(TESSERA_DECODER_MAX_CONTEXT, max_position_embeddings), as its engine caps it. */
  maxModelLen(id: string = this.model.id): number {
    return Math.min(this.o.decoderMaxContext, this.modelOf(id).maxPositionEmbeddings);
  }

  tokenize(req: ValidTokenizeRequest): TokenizeResult {
    const model = this.modelOf(req.model);
    const tok = model.tokenizer;
    const tokens = 'prompt' in req ? tok.encodePlain(req.prompt) : chatPromptIds(model.family, req.chat, tok, { defaultEnableThinking: this.o.decoderEnableThinking });
    return { count: tokens.length, max_model_len: this.maxModelLen(req.model), tokens, token_strs: req.returnTokenStrs ? tokens.map((id) => tok.tokenString(id) ?? '') : null };
  }

  /** Ids → text as HF's `decode` (special tokens kept); an id outside the vocabulary is a 400 naming `tokens[i]`. */
  detokenize(req: ValidDetokenizeRequest): { prompt: string } {
    const tok = this.modelOf(req.model).tokenizer;
    req.tokens.forEach((id, i) => {
      if (id >= tok.vocabSize || tok.tokenString(id) === undefined) {
        const limit = `0 <= tokens[${i}] < ${tok.vocabSize}`;
        throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `tokens[${i}] is ${id}, not in the vocabulary of "${req.model}" (vocab size ${tok.vocabSize})`, { field: `tokens[${i}]`, limit });
      }
    });
    return { prompt: tok.decode(req.tokens) };
  }

  /**
   * vLLM's /tokenizer_info: tokenizer_config.json's fields with added tokens as their text (vLLM
   * serialises HF's AddedToken objects to `content`), plus the keys lm-eval reads always present
   * (`bos_token`, `eos_token`, `pad_token`: null when the model has none), `tokenizer_class`, the chat
   * template when the model has one, and `model_max_length` (the config's, else max_model_len).
   */
  info(requested: string | undefined): Record<string, unknown> {
    const id = this.resolve(requested);
    const model = this.modelOf(id);
    const config = asText(model.tokenizerConfig) as Record<string, unknown>;
    const template = model.tokenizer.chatTemplate;
    return {
      ...config,
      bos_token: config.bos_token ?? null,
      eos_token: config.eos_token ?? null,
      pad_token: config.pad_token ?? null,
      tokenizer_class: config.tokenizer_class ?? 'PreTrainedTokenizerFast',
      model_max_length: config.model_max_length ?? this.maxModelLen(id),
      ...(template !== undefined && { chat_template: template }),
    };
  }
}

/** An added-token object (`{"content": "<|im_end|>", "special": true, …}`) → its text, at any depth. */
function asText(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(asText);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  if (typeof o.content === 'string') return o.content;
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, asText(x)]));
}
