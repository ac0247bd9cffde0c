/**
 * How stage sessions run. Defaults are for the shared 2-core CPU machines: spinning off (ORT's
 * default busy-wait doubled latency when the other core was busy — environment.md §1), one inter-op
 * thread, all graph optimisations. CUDA needs onnxruntime-node's CUDA provider libraries installed
 * (not bundled; see README).
 */
import type { InferenceSession } from 'onnxruntime-node';

export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';

export interface RuntimeOptions {
  /** `TESSERA_EXECUTION_PROVIDER`: cpu (default) or cuda. */
  executionProvider?: ExecutionProvider;
  /** `TESSERA_INTRA_OP_THREADS`: threads inside one op (default 1 — measured in bench/model). */
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  /** Busy-wait in the intra-op thread pool (default false). */
  allowSpinning?: boolean;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** CUDA device index (default 0). */
  deviceId?: number;
}

export const DEFAULT_RUNTIME_OPTIONS: Required<RuntimeOptions> = Object.freeze({
  executionProvider: 'cpu',
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  allowSpinning: false,
  graphOptimizationLevel: 'all',
  deviceId: 0,
});

export function sessionOptions(opts: RuntimeOptions = {}): InferenceSession.SessionOptions {
  const o = { ...DEFAULT_RUNTIME_OPTIONS, ...stripUndefined(opts) };
  const eps: InferenceSession.ExecutionProviderConfig[] =
    o.executionProvider === 'cuda' ? [{ name: 'cuda', deviceId: o.deviceId }, 'cpu'] : o.executionProvider === 'webgpu' ? ['webgpu', 'cpu'] : ['cpu'];
  return {
    executionProviders: eps,
    intraOpNumThreads: o.intraOpNumThreads,
    interOpNumThreads: o.interOpNumThreads,
    graphOptimizationLevel: o.graphOptimizationLevel,
    executionMode: 'sequential',
    extra: { session: { 'intra_op.allow_spinning': o.allowSpinning ? '1' : '0', 'inter_op.allow_spinning': o.allowSpinning ? '1' : '0' } },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
