/**
 * The production DecoderBackend: `@tessera/model`'s embed stage + paged decoder stage
 * (onnxruntime-node). The stage owns the KV pool and state slots; see
 * libs/model/src/runtime/paged-decoder.ts for exactly what crosses JS ↔ onnxruntime per step.
 */
import type { Model } from '@tessera/model';
import type { BackendInfo, CacheSize, DecoderBackend, StepInput } from '../domain/engine/backend.js';

/** `eosTokenIds`: `<|im_end|>` and `<|endoftext|>` for 2.6 (taken from the prompt tokenizer, which is
 * already loaded, rather than the model's own 3 s tokenizer load). */
export function ortBackend(model: Model, eosTokenIds: number[]): DecoderBackend {
  const l = model.config.llm;
  const stage = model.decoder;
  const info: BackendInfo = {
    modelName: model.manifest.source.name ?? model.manifest.revision.slice(0, 12),
    numLayers: l.numLayers,
    hiddenSize: stage.layout.hidden,
    vocabSize: stage.layout.vocab,
    maxContext: l.maxPositionEmbeddings,
    kvBytesPerToken: stage.bytesPerBlock(1),
    stateBytesPerSequence: stage.bytesPerStateSlot(),
    eosTokenIds: [...new Set(eosTokenIds)],
    weightBytes: model.manifest.stages.decoder.weightBytes,
  };
  return {
    info,
    allocateCache: (size: CacheSize) => stage.allocate(size),
    resetState: (slot: number) => stage.resetState(slot),
    embedTokens: (ids: Int32Array) => model.embed.run(ids, [1, ids.length]),
    step: (x: StepInput) =>
      stage.step({
        batch: x.rows.length,
        seqLen: x.seqLen,
        inputsEmbeds: x.inputsEmbeds,
        pastLengths: x.rows.map((r) => r.pastLength),
        queryLengths: x.rows.map((r) => r.queryLength),
        blockTables: x.rows.map((r) => r.blockTable),
        stateSlots: x.rows.map((r) => r.stateSlot),
      }),
    close: () => model.release(),
  };
}
