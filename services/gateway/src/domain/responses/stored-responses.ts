/**
 * Stored Responses, the rules over the port (response-store.ts): OpenAI's `store` (default true),
 * `previous_response_id`, `GET` / `DELETE /v1/responses/{id}` and `/input_items`.
 *
 * - A record holds the response object as answered and the input the model read besides
 *   `instructions` (OpenAI does not carry a previous response's instructions over): the previous
 *   conversation, then this request's input. Continuing it = that input, then the response's output
 *   items, then the new request's `input`, validated as one chat with the chat's limits.
 *   Each record holds its whole conversation, so a continuation reads one record and deleting an
 *   earlier turn does not break a later one.
 * - Images are never copied into the record: an `input_image` with a data: URL is written to the
 *   image store (tenant-scoped, by sha256; usually already there: the pipeline stored it to encode it)
 *   and the record keeps `tessera_image: {bucket, key, size, content_type}`; a continuation reads the
 *   bytes back. An image gone from the store (erased, past its retention) is a 404 naming
 *   `previous_response_id`. Remote (http) image URLs are kept as URLs and fetched again.
 * - Size: a record is one KV value, so one NATS message. A conversation already over the limit before
 *   anything is generated is a 400 naming `input` (the client can send `store: false`); an answer that
 *   pushes it over, or a failed write, is not stored and the answer says `store: false` — the client
 *   gets its answer and an honest flag, rather than a 5xx for tokens it paid for.
 * - Another tenant's id reads exactly like an unknown one (404): ids never reveal other tenants.
 */
import { ErrorCode, TesseraError, invalidArgument, sha256Hex, type Logger } from '@tessera/runtime';
import { dataUrlParts } from '../openai/validate-chat.js';
import type { ResponseStore, StoredResponse } from './response-store.js';

/** The image store as stored responses use it (libs/vision ImageStore: tenant-scoped, keyed by sha256). */
export interface ImageRefs {
  put(tenant: string, bytes: Uint8Array, sha256: string, contentType: string): Promise<{ bucket: string; key: string; size: number }>;
  get(tenant: string, ref: { bucket: string; key: string; size: number }): Promise<Uint8Array>;
}

export interface StoredResponsesOptions {
  /** How long a record can be read (TESSERA_GATEWAY_RESPONSES_TTL, > 0; 0 is "no store" and never reaches here). */
  ttlMs: number;
  /** Largest record in bytes of JSON (TESSERA_GATEWAY_RESPONSES_MAX_BYTES). */
  maxBytes: number;
  log?: Logger;
}

/** A previous response as the continuing request reads it. */
export interface PriorConversation {
  id: string;
  /** Its conversation as input items, images as data: URLs again (what validation reads). */
  items: unknown[];
  /** The same items as stored (images by reference): the start of the continuing request's stored input. */
  stored: unknown[];
}

/** The image reference a stored `input_image` carries instead of its bytes. */
interface ImageRefJson {
  bucket: string;
  key: string;
  size: number;
  content_type: string;
}

/** OpenAI's ids: `resp_` + letters and digits (ours: 32 hex). Anything else cannot have been stored. */
const RESPONSE_ID = /^resp_[0-9A-Za-z]{1,96}$/;
/** A stored image reference's JSON size, for the size check before the images are stored. */
const REF_PLACEHOLDER = { bucket: 'tessera-images', key: '0'.repeat(64), size: 1e9, content_type: 'image/jpeg' } satisfies ImageRefJson;

export class StoredResponses {
  constructor(
    private readonly store: ResponseStore,
    private readonly images: ImageRefs,
    private readonly o: StoredResponsesOptions,
  ) {}

  /** The stored record; 404 naming `field` when unknown, expired, deleted or another tenant's. */
  async find(tenant: string, id: string, field: string): Promise<StoredResponse> {
    const r = RESPONSE_ID.test(id) ? await this.store.get(tenant, id) : undefined;
    // Exact TTL even between the server's expiry sweeps.
    if (!r || Date.now() - r.createdAt >= this.o.ttlMs) throw notFound(field, id);
    return r;
  }

  /** The conversation `previous_response_id` continues: the record's input, then its output items. */
  async prior(tenant: string, id: string): Promise<PriorConversation> {
    const r = await this.find(tenant, id, 'previous_response_id');
    const stored = [...r.input, ...historyOf(r.response.output)];
    const items = await mapImages(stored, async (part) => {
      const ref = part.tessera_image as ImageRefJson | undefined;
      if (!ref) return part;
      let bytes: Uint8Array;
      try {
        bytes = await this.images.get(tenant, ref);
      } catch (err) {
        if (TesseraError.from(err).code !== ErrorCode.NOT_FOUND) throw err;
        throw new TesseraError(ErrorCode.NOT_FOUND, `previous_response_id: response "${id}" refers to an image that is no longer stored (erased, or past TESSERA_IMAGE_RETENTION); send the conversation in input instead`, { field: 'previous_response_id' }, { cause: err });
      }
      const { tessera_image: _, ...rest } = part;
      return { ...rest, image_url: `data:${ref.content_type};base64,${Buffer.from(bytes).toString('base64')}` };
    });
    return { id, items, stored };
  }

  /**
   * Before anything is generated: the record this request would store (the previous conversation and
   * this input, images as references) must fit, or the request is a 400 naming `input`.
   */
  async checkSize(prior: PriorConversation | undefined, input: unknown[]): Promise<void> {
    const refs = await mapImages(input, async (part) => (isDataImage(part) ? { ...part, image_url: undefined, tessera_image: REF_PLACEHOLDER } : part));
    const bytes = jsonBytes([...(prior?.stored ?? []), ...refs]);
    if (bytes > this.o.maxBytes) {
      const what = prior ? `the conversation of previous_response_id "${prior.id}" with this input` : 'this input';
      throw invalidArgument('input', `input: ${what} is ${bytes} bytes to store (images by reference); send store: false to answer without storing`, `stored response bytes <= ${this.o.maxBytes}`);
    }
  }

  /**
   * Stores an answered response (completed or incomplete; never a failed one) under its id. Returns
   * whether it was stored: false when the record is over the size limit or the write failed (logged);
   * the answer then says `store: false`.
   */
  async keep(tenant: string, id: string, prior: PriorConversation | undefined, input: unknown[], response: Record<string, unknown>): Promise<boolean> {
    try {
      const record: StoredResponse = { response: { ...response, store: true }, input: [...(prior?.stored ?? []), ...(await this.storable(tenant, input))], createdAt: Date.now() };
      const bytes = jsonBytes(record);
      if (bytes > this.o.maxBytes) {
        this.o.log?.warn('responses.not_stored', { responseId: id, reason: 'too_large', bytes, limit: this.o.maxBytes });
        return false;
      }
      await this.store.put(tenant, id, record);
      return true;
    } catch (err) {
      this.o.log?.warn('responses.not_stored', { responseId: id, reason: 'write_failed', error: String(err) });
      return false;
    }
  }

  /** `DELETE /v1/responses/{id}`: 404 naming `response_id` when there is nothing to delete. */
  async delete(tenant: string, id: string): Promise<void> {
    await this.find(tenant, id, 'response_id');
    if (!(await this.store.delete(tenant, id))) throw notFound('response_id', id);
  }

  purgeTenant(tenant: string): Promise<number> {
    return this.store.purgeTenant(tenant);
  }

  /** Input items with every data: URL image written to the image store and replaced by its reference. */
  private storable(tenant: string, items: unknown[]): Promise<unknown[]> {
    return mapImages(items, async (part) => {
      if (!isDataImage(part)) return part;
      const { bytes, contentType } = decodeDataUrl(part.image_url as string);
      const stored = await this.images.put(tenant, bytes, sha256Hex(bytes), contentType);
      const { image_url: _, ...rest } = part;
      return { ...rest, tessera_image: { bucket: stored.bucket, key: stored.key, size: stored.size, content_type: contentType } satisfies ImageRefJson };
    });
  }
}

function notFound(field: string, id: string): TesseraError {
  return new TesseraError(ErrorCode.NOT_FOUND, `${field}: no stored response "${id}" (never stored, expired or deleted)`, { field });
}

/** A response's output items as history: logprobs dropped (they only weigh; the templates never read them). */
function historyOf(output: unknown): unknown[] {
  if (!Array.isArray(output)) return [];
  return output.map((item: Record<string, unknown>) =>
    item.type === 'message' && Array.isArray(item.content) ? { ...item, content: item.content.map(({ logprobs: _, ...part }: Record<string, unknown>) => part) } : item,
  );
}

type Part = Record<string, unknown>;

/** Each `input_image` part of the items' `content` (messages) and `output` (function_call_output) through `f`. */
async function mapImages(items: unknown[], f: (part: Part) => Promise<Part>): Promise<unknown[]> {
  return Promise.all(
    items.map(async (item) => {
      if (!isObject(item)) return item;
      const out: Part = { ...item };
      for (const k of ['content', 'output'] as const) {
        const parts = item[k];
        if (Array.isArray(parts)) out[k] = await Promise.all(parts.map((p: unknown) => (isObject(p) && p.type === 'input_image' ? f(p) : p)));
      }
      return out;
    }),
  );
}

function isObject(x: unknown): x is Part {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isDataImage(part: Part): boolean {
  return typeof part.image_url === 'string' && part.image_url.startsWith('data:');
}

/** A validated data: URL's bytes and media type (validate-chat.ts checked its form and reads it the same way). */
function decodeDataUrl(url: string): { bytes: Buffer; contentType: string } {
  const { mime, payload } = dataUrlParts(url)!;
  return { bytes: Buffer.from(payload, 'base64'), contentType: mime || 'image/*' };
}

function jsonBytes(x: unknown): number {
  return Buffer.byteLength(JSON.stringify(x));
}
