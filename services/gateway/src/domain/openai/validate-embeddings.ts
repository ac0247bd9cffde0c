/**
 * POST /v1/embeddings bodies (OpenAI shape) → a valid request, once, at the edge. Errors name the
 * field. Batch and token limits are the retrieval service's (its INVALID_ARGUMENT names
 * `inputs[i]`, which the route reports as `input[i]`).
 */
import { ErrorCode, TesseraError } from '@tessera/runtime';

export interface ValidEmbeddingsRequest {
  inputs: string[];
  model: string;
  encodingFormat: 'float' | 'base64';
  dimensions?: number;
}

const bad = (field: string, message: string, limit?: string) => new TesseraError(ErrorCode.INVALID_ARGUMENT, message, { field, ...(limit && { limit }) });

export function validateEmbeddingsRequest(body: unknown): ValidEmbeddingsRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('body', 'body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model === '') throw bad('model', 'model is required (an embedding model id, see the retrieval service README)');
  let inputs: string[];
  if (typeof b.input === 'string') inputs = [b.input];
  else if (Array.isArray(b.input)) {
    if (b.input.length === 0) throw bad('input', 'input must not be an empty array');
    inputs = b.input.map((x, i) => {
      if (typeof x === 'string') return x;
      if (typeof x === 'number' || Array.isArray(x)) throw bad(i === 0 && typeof x === 'number' ? 'input' : `input[${i}]`, 'token-id input is not supported: send text');
      throw bad(`input[${i}]`, `input[${i}] must be a string`);
    });
  } else throw bad('input', 'input must be a string or an array of strings');
  const fmt = b.encoding_format ?? 'float';
  if (fmt !== 'float' && fmt !== 'base64') throw bad('encoding_format', `encoding_format must be "float" or "base64", got ${JSON.stringify(fmt)}`);
  let dimensions: number | undefined;
  if (b.dimensions !== undefined && b.dimensions !== null) {
    if (typeof b.dimensions !== 'number' || !Number.isInteger(b.dimensions) || b.dimensions < 1) throw bad('dimensions', 'dimensions must be a positive integer');
    dimensions = b.dimensions;
  }
  if (b.user !== undefined && typeof b.user !== 'string') throw bad('user', 'user must be a string');
  return { inputs, model: b.model, encodingFormat: fmt, ...(dimensions !== undefined && { dimensions }) };
}

/** Little-endian float32 bytes, base64 (what OpenAI's encoding_format=base64 returns). */
export function base64Floats(values: readonly number[]): string {
  const f = Float32Array.from(values);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}
