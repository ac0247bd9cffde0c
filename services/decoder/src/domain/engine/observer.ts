import type { EngineStats } from './engine.js';
import type { FinishReason, Timings, Usage } from './types.js';

/** Engine events that metrics and traces listen to; the engine itself depends on no telemetry. */
export interface EngineObserver {
  onFirstToken?(tenant: string, ttftS: number, queueS: number, prefillS: number): void;
  onToken?(tenant: string, interTokenS: number): void;
  onFinish?(tenant: string, reason: FinishReason, usage: Usage, timings: Timings, errorCode?: string): void;
  onRejected?(tenant: string, code: string): void;
  /** Sequences preempted (recompute) in one step because the KV blocks ran out. */
  onPreempted?(count: number): void;
  /** After every engine step (and when the engine goes idle). */
  onStats?(stats: EngineStats): void;
}
