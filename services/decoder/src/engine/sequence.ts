/** One request's state inside the engine. */
import type { TesseraError } from '@tessera/runtime';
import type { ChunkStream } from './chunk-stream.js';
import { IncrementalDetokenizer, type TokenBytes } from './detokenizer.js';
import { Prng, randomSeed } from './prng.js';
import type { PenaltyState } from './sampler.js';
import type { EngineChunk, EngineRequest, FinishReason, Timings, Usage } from './types.js';

export type SequenceState = 'queued' | 'prefill' | 'running' | 'finished';

export class Sequence {
  state: SequenceState = 'queued';
  readonly prng: Prng;
  readonly penalties: PenaltyState;
  readonly detok: IncrementalDetokenizer;
  readonly stopIds: Set<number>;
  readonly generated: number[] = [];
  /** Tokens whose KV this sequence holds. */
  kvLen = 0;
  /** Bytes reserved against the KV budget at admission. */
  reservedBytes = 0;
  cachedPromptTokens = 0;
  lastToken = -1;
  /** Set by cancel(); acted on at the start of the next engine step. */
  cancelRequested: TesseraError | undefined;

  readonly tSubmit = performance.now();
  tAdmit = 0;
  tPrefillStart = 0;
  tPrefillEnd = 0;
  tFirst = 0;
  tLast = 0;

  readonly seed: bigint;

  constructor(
    readonly req: EngineRequest,
    readonly stream: ChunkStream<EngineChunk>,
    tokenBytes: TokenBytes,
    eosTokenIds: readonly number[],
  ) {
    this.seed = req.params.seed ?? randomSeed();
    this.prng = new Prng(this.seed);
    const p = req.params;
    this.penalties = {
      promptTokens: p.repetitionPenalty !== 1 ? new Set(req.promptTokenIds) : new Set(),
      outputCounts: new Map(),
    };
    this.detok = new IncrementalDetokenizer(tokenBytes, p.stop);
    this.stopIds = new Set([...p.stopTokenIds, ...(p.ignoreEos ? [] : eosTokenIds)]);
  }

  get tenant(): string {
    return this.req.tenant;
  }

  usage(): Usage {
    return {
      promptTokens: this.req.promptTokenIds.length,
      visualTokens: this.req.visual?.positions.length ?? 0,
      completionTokens: this.generated.length,
      cachedPromptTokens: this.cachedPromptTokens,
    };
  }

  timings(now: number): Timings {
    const s = (ms: number): number => Math.max(0, ms) / 1000;
    const n = this.generated.length;
    return {
      queueS: s((this.tAdmit || now) - this.tSubmit),
      prefillS: this.tPrefillEnd ? s(this.tPrefillEnd - this.tPrefillStart) : 0,
      timeToFirstTokenS: this.tFirst ? s(this.tFirst - this.tSubmit) : 0,
      perTokenS: n > 1 ? s(this.tLast - this.tFirst) / (n - 1) : 0,
      decodeS: n > 1 ? s(this.tLast - this.tFirst) : 0,
      totalS: s(now - this.tSubmit),
    };
  }

  /** Records a sampled token; returns whether generation ends here and why. */
  finishCheck(tokenId: number): { reason: FinishReason; stop?: string | number } | undefined {
    if (this.stopIds.has(tokenId)) return { reason: 'stop', stop: tokenId };
    if (this.generated.length >= this.req.params.maxTokens) return { reason: 'length' };
    return undefined;
  }
}
