/**
 * The production DecoderBackend: `@tessera/model`'s embed + decoder ONNX stages (onnxruntime-node).
 * Batched decode embeds the B last tokens as one [1, B] call, which is the [B, 1, hidden] layout the
 * decoder graph expects.
 */
import type { Model } from '@tessera/model';
import type { BackendInfo, DecoderBackend, ForwardInput, ForwardOutput } from './engine/backend.js';

/** `eosTokenIds`: `<|im_end|>` and `<|endoftext|>` for 2.6 (taken from the prompt tokenizer, which is
 * already loaded, rather than the model's own 3 s tokenizer load). */
export function ortBackend(model: Model, eosTokenIds: number[]): DecoderBackend {
  const l = model.config.llm;
  const info: BackendInfo = {
    modelName: model.manifest.source.name ?? model.manifest.revision.slice(0, 12),
    numLayers: l.numLayers,
    numKvHeads: l.numKvHeads,
    headDim: l.headDim,
    hiddenSize: l.hiddenSize,
    vocabSize: l.vocabSize,
    maxContext: l.maxPositionEmbeddings,
    kvDtype: 'float32',
    eosTokenIds: [...new Set(eosTokenIds)],
    weightBytes: model.manifest.stages.decoder.weightBytes,
  };
  return {
    info,
    embedTokens: (ids: Int32Array) => model.embed.run(ids, [1, ids.length]),
    async forward(x: ForwardInput): Promise<ForwardOutput> {
      const r = await model.decoder.run({
        inputsEmbeds: x.inputsEmbeds,
        batch: x.batch,
        seq: x.seqLen,
        attentionMask: x.attentionMask,
        positionIds: x.positionIds,
        past: { batch: x.batch, length: x.pastLen, keys: x.past.map((p) => p.key as Float32Array), values: x.past.map((p) => p.value as Float32Array) },
      });
      return { logits: r.logits, present: r.present.keys.map((key, i) => ({ key, value: r.present.values[i]! })) };
    },
    close: () => model.release(),
  };
}
