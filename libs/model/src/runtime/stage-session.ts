/** One lazily created onnxruntime session per stage; created on first use, shared afterwards. */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { StageManifest } from '../manifest.js';
import { sessionOptions, type RuntimeOptions } from './runtime-options.js';

export type Feeds = Record<string, ort.Tensor>;

export class StageSession {
  private pending: Promise<ort.InferenceSession> | null = null;

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly manifest: StageManifest,
    private readonly opts: RuntimeOptions,
  ) {}

  /** Creates the session now (startup probes load weights before taking traffic). */
  load(): Promise<ort.InferenceSession> {
    if (!this.pending) {
      const path = join(this.dir, this.manifest.file);
      this.pending = ort.InferenceSession.create(path, sessionOptions(this.opts)).catch((err: unknown) => {
        this.pending = null;
        throw new TesseraError(ErrorCode.UNAVAILABLE, `${this.name} stage: cannot create ONNX Runtime session for ${path}: ${(err as Error).message}`, { field: `stages.${this.name}`, file: path }, { cause: err });
      });
    }
    return this.pending;
  }

  async runFeeds(feeds: Feeds): Promise<Record<string, ort.Tensor>> {
    const s = await this.load();
    return (await s.run(feeds)) as Record<string, ort.Tensor>;
  }

  async release(): Promise<void> {
    const p = this.pending;
    this.pending = null;
    if (p) await (await p).release();
  }
}

export const f32 = (data: Float32Array, dims: number[]): ort.Tensor => new ort.Tensor('float32', data, dims);
export const i64 = (data: BigInt64Array, dims: number[]): ort.Tensor => new ort.Tensor('int64', data, dims);
export function toI64(values: ArrayLike<number | bigint>): BigInt64Array {
  if (values instanceof BigInt64Array) return values;
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = BigInt(values[i]);
  return out;
}

export function checkLength(field: string, got: number, want: number): void {
  if (got !== want) throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `${field}: length ${got} does not match its shape (expected ${want})`, { field, limit: `length == ${want}` });
}
