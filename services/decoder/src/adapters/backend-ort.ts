/**
 * The production DecoderBackend: `@tessera/model`'s embed stage + paged decoder stage
 * (onnxruntime-node). The stage owns the KV pool and state slots; see
 * libs/model/src/runtime/paged-decoder.ts for exactly what crosses JS ↔ onnxruntime per step.
 * One backend for every family: 2.6's graph has only KV layers, 4.6's hybrid graph adds per-sequence
 * conv + recurrent state slots (Gated DeltaNet layers) and takes ≤ maxChunk new tokens per row.
 */
import type { EmbedStage, PagedDecoderStage } from '@tessera/model';
import type { BackendInfo, CacheSize, DecoderBackend, StepInput } from '../domain/engine/backend.js';

export interface OrtBackendModel {
  modelName: string;
  numLayers: number;
  /** Positions the model supports (config max_position_embeddings). */
  maxContext: number;
  weightBytes: number;
  /** The graph's per-call token cap (4.6: manifest decoder.maxChunk); undefined = none. */
  maxQueryLength?: number;
  embed: EmbedStage;
  decoder: PagedDecoderStage;
  release(): Promise<void>;
}

/** `eosTokenIds`: generation_config.json's eos_token_id plus `<|im_end|>` / `<|endoftext|>` (load-model.ts). */
export function ortBackend(model: OrtBackendModel, eosTokenIds: number[]): DecoderBackend {
  const stage = model.decoder;
  const info: BackendInfo = {
    modelName: model.modelName,
    numLayers: model.numLayers,
    hiddenSize: stage.layout.hidden,
    vocabSize: stage.layout.vocab,
    maxContext: model.maxContext,
    kvBytesPerToken: stage.bytesPerBlock(1),
    stateBytesPerSequence: stage.bytesPerStateSlot(),
    eosTokenIds: [...new Set(eosTokenIds)],
    weightBytes: model.weightBytes,
    ...(model.maxQueryLength !== undefined && { maxQueryLength: model.maxQueryLength }),
    promptLogits: stage.layout.logitsIndices,
  };
  return {
    info,
    allocateCache: (size: CacheSize) => stage.allocate(size),
    resetState: (slot: number) => stage.resetState(slot),
    embedTokens: (ids: Int32Array) => model.embed.run(ids, [1, ids.length]),
    step: (x: StepInput) =>
      stage.stepScored({
        batch: x.rows.length,
        seqLen: x.seqLen,
        inputsEmbeds: x.inputsEmbeds,
        pastLengths: x.rows.map((r) => r.pastLength),
        queryLengths: x.rows.map((r) => r.queryLength),
        blockTables: x.rows.map((r) => r.blockTable),
        stateSlots: x.rows.map((r) => r.stateSlot),
        ...(x.rows.some((r) => r.allLogits) && { logitsIndices: logitsIndices(x) }),
      }),
    close: () => model.release(),
  };
}

/** Flat indices b·T + t of the new tokens whose logits a step returns (backend.ts `step`). */
function logitsIndices(x: StepInput): number[] {
  const out: number[] = [];
  x.rows.forEach((r, b) => {
    if (!r.allLogits) return void out.push(b * x.seqLen + r.queryLength - 1);
    for (let t = 0; t < r.queryLength; t++) out.push(b * x.seqLen + t);
  });
  return out;
}
