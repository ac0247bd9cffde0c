/**
 * GenerateRequest.response_format / tools → the engine's per-sequence constraint. The grammar engine
 * is @tessera/structured (schema → byte matcher → token masks over this tokenizer's vocabulary);
 * the engine only sees the LogitsConstraint hook. Compiled schemas are cached by their JSON text
 * (clients repeat the same schema on every call).
 */
import type { decodingV1 } from '@tessera/contracts';
import { invalidArgument } from '@tessera/runtime';
import { compileSchema, forcedToolSchema, JSON_OBJECT_SCHEMA, JsonConstraint, TokenIndex, type SchemaNode, type TokenBytesSource } from '@tessera/structured';
import type { LogitsConstraint } from './engine/types.js';

const SCHEMA_CACHE_ENTRIES = 64;
const compiled = new Map<string, SchemaNode>();

export interface StructuredVocabulary {
  tokenBytes: TokenBytesSource;
  /** Rows of the model's logits (may exceed the tokenizer's vocabulary: padded embeddings). */
  vocabSize: number;
  eosTokenIds: readonly number[];
}

export function constraintFor(req: Pick<decodingV1.GenerateRequest, 'responseFormat' | 'tools' | 'toolChoice' | 'parallelToolCalls'>, vocab: StructuredVocabulary): LogitsConstraint | undefined {
  // A forced tool choice ("required" or a named function) constrains the output to the call's JSON,
  // as vLLM does; it takes precedence over response_format. "auto" and "none" leave the text free.
  const forced = req.tools.length > 0 ? forcedToolSchema(req.tools, req.toolChoice, req.parallelToolCalls === false ? 1 : undefined) : undefined;
  const f = req.responseFormat?.format;
  if (!forced && !f) return undefined;
  const key = forced ? `tools:${JSON.stringify(forced)}` : f!.$case === 'jsonObject' ? '' : f!.jsonSchema.schemaJson;
  let node = compiled.get(key);
  if (!node) {
    let schema: unknown = forced ?? JSON_OBJECT_SCHEMA;
    if (!forced && f!.$case === 'jsonSchema') {
      try {
        schema = JSON.parse(f!.jsonSchema.schemaJson || '{}');
      } catch {
        throw invalidArgument('response_format.json_schema.schema_json', 'schema_json is not valid JSON');
      }
    }
    node = compileSchema(schema, { field: forced ? (req.toolChoice === 'required' ? 'tools' : 'tool_choice') : 'response_format.json_schema.schema' });
    if (compiled.size >= SCHEMA_CACHE_ENTRIES) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, node);
  }
  return new JsonConstraint(node, TokenIndex.for(vocab.tokenBytes, vocab.vocabSize), vocab.eosTokenIds);
}

/**
 * A constraint that starts after the model's reasoning: every token is free until the sequence emits
 * `</think>` (its added-token id), then `inner` shapes the rest, as vLLM's structured output waits for
 * its reasoning parser's end. The answer after `</think>` is the constrained document; end-of-sequence
 * stays allowed while thinking (as in vLLM), so a model that stops there answers with reasoning only.
 */
export class AfterReasoning implements LogitsConstraint {
  private thinking = true;

  constructor(
    private readonly inner: LogitsConstraint,
    private readonly thinkEndId: number,
  ) {}

  allows(tokenId: number): boolean {
    return this.thinking || this.inner.allows(tokenId);
  }

  mask(logits: Float32Array): void {
    if (!this.thinking) this.inner.mask(logits);
  }

  advance(tokenId: number): void {
    if (!this.thinking) this.inner.advance(tokenId);
    else if (tokenId === this.thinkEndId) this.thinking = false;
  }
}

/**
 * Builds the vocabulary's token index now (~0.5 s for 151k tokens on a quiet core, several seconds on
 * a loaded one) so the first structured request does not stall the event loop mid-service: a stalled
 * decoder misses stream heartbeats and the caller gives up on a generation that is still running.
 */
export function warmStructuredOutput(vocab: StructuredVocabulary): void {
  TokenIndex.for(vocab.tokenBytes, vocab.vocabSize);
}
