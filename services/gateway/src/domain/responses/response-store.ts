/**
 * The port of stored Responses (OpenAI's `store: true`): one record per tenant and response id, what
 * `GET /v1/responses/{id}` returns and what `previous_response_id` continues. The adapter over a
 * JetStream KV bucket is adapters/responses/kv-response-store.ts; the rules (what is stored, sizes,
 * images by reference, 404s) are stored-responses.ts.
 */

/** One stored response. */
export interface StoredResponse {
  /** The response object as it was answered (`GET /v1/responses/{id}`). */
  response: Record<string, unknown>;
  /**
   * What the model read besides `instructions` (never inherited), as Responses input items: the previous
   * response's conversation (its input, then its output), then this request's `input` (a string as one
   * user message). Images by reference (`input_image` with `tessera_image`), never their bytes.
   */
  input: unknown[];
  /** Epoch ms when it was stored (the TTL counts from here). */
  createdAt: number;
}

export interface ResponseStore {
  put(tenant: string, id: string, record: StoredResponse): Promise<void>;
  /** The record, or undefined: never stored, expired, deleted or another tenant's. */
  get(tenant: string, id: string): Promise<StoredResponse | undefined>;
  /** Whether there was a record to delete. */
  delete(tenant: string, id: string): Promise<boolean>;
  /** Deletes every record of a tenant (erasure); returns how many. */
  purgeTenant(tenant: string): Promise<number>;
}
