/** One lazily created onnxruntime session per stage; created on first use, shared afterwards. */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { StageManifest } from '../manifest.js';
import { outputsKeptOnDevice } from './device-pools.js';
import { sessionOptions, type RuntimeOptions } from './runtime-options.js';

export type Feeds = Record<string, ort.Tensor>;

export class StageSession {
  private pending: Promise<ort.InferenceSession> | null = null;
  /**
   * Outputs onnxruntime leaves on the GPU ('gpu-buffer', the WebGPU EP's IO binding): a paged decoder's
   * new K/V and state on WebGPU, which PagedDecoderStage scatters into its device pools. `runFeeds`
   * brings them back to the host for every other caller.
   */
  readonly outputsOnDevice: readonly string[];

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly manifest: StageManifest,
    readonly opts: RuntimeOptions,
  ) {
    this.outputsOnDevice = outputsKeptOnDevice(manifest, opts);
  }

  /** Creates the session now (startup probes load weights before taking traffic). */
  load(): Promise<ort.InferenceSession> {
    if (!this.pending) {
      const path = join(this.dir, this.manifest.file);
      const options: ort.InferenceSession.SessionOptions = { ...sessionOptions(this.opts) };
      if (this.outputsOnDevice.length) options.preferredOutputLocation = Object.fromEntries(this.outputsOnDevice.map((o) => [o, 'gpu-buffer' as const]));
      this.pending = ort.InferenceSession.create(path, options).catch((err: unknown) => {
        this.pending = null;
        throw new TesseraError(ErrorCode.UNAVAILABLE, `${this.name} stage: cannot create ONNX Runtime session for ${path}: ${(err as Error).message}`, { field: `stages.${this.name}`, file: path }, { cause: err });
      });
    }
    return this.pending;
  }

  async runFeeds(feeds: Feeds): Promise<Record<string, ort.Tensor>> {
    const s = await this.load();
    const out = (await s.run(feeds)) as Record<string, ort.Tensor>;
    for (const name of this.outputsOnDevice) {
      const t = out[name];
      if (t) out[name] = new ort.Tensor(t.type as 'float32', (await t.getData(true)) as Float32Array, t.dims);
    }
    return out;
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
