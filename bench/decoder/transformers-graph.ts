/**
 * Builds a transformers.js-loadable copy of a built model's text path (bench only):
 *   input_ids → Gather(embed table) → our contiguous-KV decoder graph → Unsqueeze(logits, 1) = [B, 1, vocab]
 * plus a `qwen2` config. `modelDir` must hold the HF-layout decoder (`past_key_values`/`present`;
 * buildModel `decoderGraph: 'contiguous'`, see legacy-engine.ts). Weights that the built model keeps
 * in `<stage>.onnx.data` are read back into the copy (inline): the re-wired graph lives in another
 * directory, so external-data references relative to the original would not resolve (the crash
 * this bench used to have). Nothing is recomputed: same weights, same decoder nodes.
 */
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { readManifest } from '@tessera/model';

const { onnx } = onnxProto as unknown as { onnx: any };

export function buildTransformersJsModel(modelDir: string, outDir: string, opts: { external?: boolean } = {}): string {
  if (existsSync(join(outDir, 'onnx', 'model.onnx'))) return outDir;
  mkdirSync(join(outDir, 'onnx'), { recursive: true });
  const man = readManifest(modelDir);
  const dec = onnx.ModelProto.decode(readFileSync(join(modelDir, man.stages.decoder.file)));
  const emb = onnx.ModelProto.decode(readFileSync(join(modelDir, man.stages.embed.file)));
  inlineExternal(dec.graph, modelDir);
  inlineExternal(emb.graph, modelDir);
  const g = dec.graph;
  const gather = emb.graph.node.find((n: any) => n.opType === 'Gather');
  const table = emb.graph.initializer.find((t: any) => t.name === gather.input[0]);
  table.name = 'tjs.embed_tokens.weight';
  g.initializer.push(table);

  // input_ids replaces inputs_embeds as the graph input.
  const ie = g.input.findIndex((i: any) => i.name === 'inputs_embeds');
  const idsInput = emb.graph.input.find((i: any) => i.name === 'input_ids');
  g.input.splice(ie, 1, idsInput);
  g.node.unshift(onnx.NodeProto.create({ opType: 'Gather', input: [table.name, 'input_ids'], output: ['inputs_embeds'], attribute: [onnx.AttributeProto.create({ name: 'axis', type: 2, i: 0 })], name: 'tjs_embed' }));

  // logits [B, V] → [B, 1, V]
  for (const n of g.node) n.output = n.output.map((o: string) => (o === 'logits' ? 'tjs.logits_2d' : o));
  g.initializer.push(onnx.TensorProto.create({ name: 'tjs.axis1', dataType: 7, dims: [1], rawData: Buffer.from(new BigInt64Array([1n]).buffer) }));
  g.node.push(onnx.NodeProto.create({ opType: 'Unsqueeze', input: ['tjs.logits_2d', 'tjs.axis1'], output: ['logits'], name: 'tjs_unsqueeze' }));
  const out = g.output.find((o: any) => o.name === 'logits');
  const dims = out.type.tensorType.shape.dim;
  dims.splice(1, 0, onnx.TensorShapeProto.Dimension.create({ dimValue: 1 }));

  // Weights → external data only when asked: transformers.js 3.x refuses external data in Node,
  // and inline stays under protobuf's 2 GB for the bench preset (0.98 + 0.62 GB).
  if (opts.external) externalise(g, outDir);
  writeFileSync(join(outDir, 'onnx', 'model.onnx'), onnx.ModelProto.encode(dec).finish());
  writeConfig(man, modelDir, outDir);
  return outDir;
}

/** Reads external-data initializers (location relative to `dir`) back into rawData. */
function inlineExternal(g: any, dir: string): void {
  const files = new Map<string, Buffer>();
  for (const t of g.initializer) {
    if (t.dataLocation !== 1) continue;
    const kv = Object.fromEntries(t.externalData.map((e: any) => [e.key, e.value]));
    let buf = files.get(kv.location);
    if (!buf) {
      buf = readFileSync(join(dir, kv.location));
      files.set(kv.location, buf);
    }
    const off = Number(kv.offset ?? 0);
    t.rawData = buf.subarray(off, off + Number(kv.length));
    t.externalData = [];
    t.dataLocation = 0;
  }
}

function externalise(g: any, outDir: string): void {
  const fd = openSync(join(outDir, 'onnx', 'model.onnx_data'), 'w');
  let offset = 0;
  for (const t of g.initializer) {
    const raw: Uint8Array | undefined = t.rawData;
    if (!raw || raw.length < 1024) continue;
    writeSync(fd, raw);
    t.externalData = [
      onnx.StringStringEntryProto.create({ key: 'location', value: 'model.onnx_data' }),
      onnx.StringStringEntryProto.create({ key: 'offset', value: String(offset) }),
      onnx.StringStringEntryProto.create({ key: 'length', value: String(raw.length) }),
    ];
    t.dataLocation = 1;
    t.rawData = new Uint8Array(0);
    offset += raw.length;
  }
  closeSync(fd);
}

function writeConfig(man: ReturnType<typeof readManifest>, modelDir: string, outDir: string): void {
  const l = man.config.llm;
  writeFileSync(join(outDir, 'config.json'), JSON.stringify({
    model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], hidden_size: l.hiddenSize, intermediate_size: l.intermediateSize,
    num_attention_heads: l.numHeads, num_key_value_heads: l.numKvHeads, num_hidden_layers: l.numLayers, head_dim: l.headDim,
    vocab_size: l.vocabSize, rope_theta: l.ropeTheta, max_position_embeddings: 32768, bos_token_id: 151643, eos_token_id: [151645, 151643],
    tie_word_embeddings: false, use_cache: true,
  }));
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) copyFileSync(join(modelDir, f), join(outDir, f));
}

if (process.argv[1]?.endsWith('transformers-graph.ts')) {
  const t = performance.now();
  console.log(buildTransformersJsModel(process.argv[2]!, process.argv[3]!), ((performance.now() - t) / 1000).toFixed(1), 's');
}
