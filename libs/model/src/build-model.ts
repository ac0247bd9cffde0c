/**
 * Checkpoint directory → built model directory (one ONNX graph per stage + manifest + serve-time
 * files). Builds into a sibling temp dir and renames at the end, so a crash never leaves a
 * half-built model where a service would load it. Tensors are read one at a time and hashed as they
 * pass (the revision), so peak memory is one stage's largest tensor plus its transposed copy.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, sha256Hex, TesseraError } from '@tessera/errors';
import { toFloat32 as toF32 } from './checkpoint/dtype.js';
import { readAnyCheckpoint, SERVE_TIME_FILES, type AnyCheckpoint, type Checkpoint, type Checkpoint46 } from './checkpoint/read-checkpoint.js';
import { stages46 } from './families/minicpmv4_6/stage-graphs.js';
import { DEFAULT_MAX_CHUNK } from './onnx/hybrid-decoder-graph.js';
import { MANIFEST_FORMAT, MANIFEST_FORMAT_VERSION, type AnyManifest, type Manifest, type Manifest46, type StageManifest, type StageName } from './manifest.js';
import { buildDecoderGraph } from './onnx/decoder-graph.js';
import { buildPagedDecoderGraph } from './onnx/paged-decoder-graph.js';
import { KV_CACHE_DTYPES, type KvCacheDtype } from './onnx/paged-decoder-io.js';
import { buildEmbedGraph } from './onnx/embed-graph.js';
import { GraphBuilder } from './onnx/graph-builder.js';
import { buildResamplerGraph } from './onnx/resampler-graph.js';
import { buildVisionGraph } from './onnx/vision-graph.js';
import { WeightSink } from './onnx/weight-sink.js';
import type { MiniCPMVConfig } from './checkpoint/config.js';
import type { WeightSource } from './onnx/layers.js';
import type { WeightFormat } from './onnx/quantize.js';

export interface BuildOptions {
  /** Replace an existing output directory (default false: refuse). */
  overwrite?: boolean;
  /**
   * Stages whose fp32 weights exceed this many bytes store them in `<stage>.onnx.data` (protobuf
   * caps a model at 2 GB; encoding a GB-sized proto in JS also doubles memory). Default 256 MiB; 0 forces external data everywhere.
   */
  externalDataThresholdBytes?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
  /**
   * Decoder weight format: fp32 (default), or weight-only int8/int4 (com.microsoft MatMulNBits, block
   * 32, symmetric) for its linears and lm_head — decode is memory-bound, so bytes/token drop 4–8×.
   * Vision, resampler and embed stay fp32 (compute-bound or a gather).
   */
  decoderWeights?: WeightFormat;
  /**
   * `paged` (default, what the decoder service runs) or `contiguous`: the HF-layout decoder with
   * `past_key_values`/`present` inputs and outputs (onnx/decoder-graph.ts), kept for exports and as the
   * previous engine's graph in bench/decoder.
   */
  decoderGraph?: 'paged' | 'contiguous';
  /**
   * Element type of the paged decoder's KV pools (onnx/paged-decoder-io.ts KvCacheDtype): float32
   * (default, faithful to the no-cache forward), float16 or int8 (per-token scales). 2.6 / 4.5 paged graphs only.
   */
  kvCacheDtype?: KvCacheDtype;
}

type GraphFn = (g: GraphBuilder, cfg: MiniCPMVConfig, w: WeightSource) => void;
const GRAPHS: Array<[StageName, GraphFn, string]> = [
  ['vision', buildVisionGraph, 'vpm.'],
  ['resampler', buildResamplerGraph, 'resampler.'],
  ['embed', buildEmbedGraph, 'llm.model.embed_tokens.'],
  ['decoder', buildPagedDecoderGraph, 'llm.'],
];

/** One stage: which tensors it reads, how to build it, whether the decoder weight format applies. */
interface StagePlan {
  stage: string;
  reads: (name: string) => boolean;
  build: (g: GraphBuilder, w: WeightSource) => void;
  quantizable: boolean;
}

/** Builds a checkpoint of any family (dispatch on config.json) into `outDir`. */
export async function buildModel(checkpointDir: string, outDir: string, opts: BuildOptions = {}): Promise<AnyManifest> {
  const ckpt = readAnyCheckpoint(checkpointDir);
  const kvDtype = opts.kvCacheDtype ?? 'float32';
  if (!(KV_CACHE_DTYPES as readonly string[]).includes(kvDtype)) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `kvCacheDtype must be one of ${KV_CACHE_DTYPES.join(', ')} (got ${String(kvDtype)})`, { field: 'kvCacheDtype' });
  }
  if (kvDtype !== 'float32' && (ckpt.family === '4.6' || opts.decoderGraph === 'contiguous')) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `kvCacheDtype ${kvDtype} needs the paged 2.6 / 4.5 decoder graph (the 4.6 hybrid graph and the contiguous graph keep float32 KV)`, { field: 'kvCacheDtype' });
  }
  if (ckpt.family === '4.6') return buildModel46(ckpt, checkpointDir, outDir, opts);
  const plans: StagePlan[] = GRAPHS.map(([stage, build, prefix]) => ({
    stage,
    reads: (n) => n.startsWith(prefix) && (stage !== 'decoder' || !n.startsWith('llm.model.embed_tokens.')),
    build: (g, w) =>
      stage !== 'decoder' ? build(g, ckpt.config, w) : opts.decoderGraph === 'contiguous' ? buildDecoderGraph(g, ckpt.config, w) : buildPagedDecoderGraph(g, ckpt.config, w, opts.kvCacheDtype),
    quantizable: stage === 'decoder',
  }));
  return buildInto(ckpt, checkpointDir, outDir, opts, plans, (stages, revision) => ({
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_FORMAT_VERSION,
    family: ckpt.family,
    revision,
    architecture: 'MiniCPMV',
    version: ckpt.config.version,
    precision: precisionOf(opts),
    source: { checkpoint: checkpointDir, name: typeof ckpt.config.raw._name_or_path === 'string' ? ckpt.config.raw._name_or_path : null },
    config: summarise(ckpt.config),
    stages: stages as Record<StageName, StageManifest>,
    files: [],
  }));
}

const precisionOf = (opts: BuildOptions): Manifest['precision'] => (opts.decoderWeights && opts.decoderWeights !== 'fp32' ? `decoder-${opts.decoderWeights}` : 'fp32');

function buildModel46(ckpt: Checkpoint46, checkpointDir: string, outDir: string, opts: BuildOptions): Promise<Manifest46> {
  const c = ckpt.config;
  const plans: StagePlan[] = stages46().map((s) => ({ stage: s.stage, reads: s.reads, build: (g, w) => s.build(g, c, w), quantizable: s.quantizable === true }));
  return buildInto(ckpt, checkpointDir, outDir, opts, plans, (stages, revision) => ({
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_FORMAT_VERSION,
    family: '4.6',
    revision,
    architecture: Array.isArray(c.raw.architectures) ? String(c.raw.architectures[0]) : 'MiniCPMV4_6ForConditionalGeneration',
    precision: precisionOf(opts),
    source: { checkpoint: checkpointDir, name: typeof c.raw._name_or_path === 'string' ? c.raw._name_or_path : null },
    config: {
      text: {
        hiddenSize: c.text.hiddenSize,
        numLayers: c.text.numLayers,
        layerTypes: c.text.layerTypes,
        numHeads: c.text.numHeads,
        numKvHeads: c.text.numKvHeads,
        headDim: c.text.headDim,
        rotaryDim: c.text.rotaryDim,
        ropeTheta: c.text.ropeTheta,
        vocabSize: c.text.vocabSize,
        intermediateSize: c.text.intermediateSize,
        linearNumKeyHeads: c.text.linearNumKeyHeads,
        linearNumValueHeads: c.text.linearNumValueHeads,
        linearKeyHeadDim: c.text.linearKeyHeadDim,
        linearValueHeadDim: c.text.linearValueHeadDim,
        linearConvKernel: c.text.linearConvKernel,
      },
      vision: { hiddenSize: c.vision.vision.hiddenSize, numLayers: c.vision.vision.numLayers, numHeads: c.vision.vision.numHeads, patchSize: c.vision.vision.patchSize, positionsPerSide: c.vision.vision.positionsPerSide, insertLayerId: c.vision.insertLayerId },
      downsampleMode: c.downsampleMode,
      imageTokenId: c.imageTokenId,
    },
    decoder: { maxChunk: DEFAULT_MAX_CHUNK },
    stages,
    files: [],
  }));
}

async function buildInto<M extends AnyManifest>(
  ckpt: AnyCheckpoint,
  checkpointDir: string,
  outDir: string,
  opts: BuildOptions,
  plans: StagePlan[],
  manifestOf: (stages: Record<string, StageManifest>, revision: string) => M,
): Promise<M> {
  if (existsSync(outDir) && !opts.overwrite) {
    throw new TesseraError(ErrorCode.ALREADY_EXISTS, `output directory ${outDir} already exists (pass overwrite to replace it)`, { field: 'out', file: outDir });
  }
  const tmp = join(dirname(outDir), `.${basename(outDir)}.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp, { recursive: true });
  try {
    const threshold = opts.externalDataThresholdBytes ?? 256 * 1024 ** 2;
    const tensorHashes = new Map<string, string>();
    const stages: Record<string, StageManifest> = {};
    for (const { stage, reads, build, quantizable } of plans) {
      const names = [...ckpt.tensors.keys()].filter(reads);
      const fp32Bytes = names.reduce((a, n) => a + ckpt.tensors.get(n)!.shape.reduce((x, y) => x * y, 1) * 4, 0);
      const file = `${stage}.onnx`;
      const sink = new WeightSink(fp32Bytes > threshold ? join(tmp, `${file}.data`) : null);
      const g = new GraphBuilder(`tessera_${stage}`, sink, quantizable ? (opts.decoderWeights ?? 'fp32') : 'fp32');
      let done = 0;
      const source: WeightSource = (name) => {
        const bytes = ckpt.tensorBytes(name);
        if (!tensorHashes.has(name)) tensorHashes.set(name, sha256Hex(bytes));
        opts.onProgress?.(stage, ++done, names.length);
        const e = ckpt.tensors.get(name)!;
        return toF32(bytes, e.dtype);
      };
      build(g, source);
      sink.close();
      g.save(join(tmp, file), `MiniCPM-V ${ckpt.family} ${stage} stage, built by tessera from ${basename(checkpointDir)}`);
      stages[stage] = { file, externalData: sink.dataFile, inputs: g.inputs, outputs: g.outputs, parameters: g.parameters, weightBytes: sink.bytes };
      await new Promise((r) => setImmediate(r));
    }
    // Tensors no stage read (none for 2.6; the 4.6 vision tensors until its vision stage exists) still count towards the revision.
    for (const name of ckpt.tensors.keys()) if (!tensorHashes.has(name)) tensorHashes.set(name, sha256Hex(ckpt.tensorBytes(name)));

    const files: string[] = [];
    for (const f of SERVE_TIME_FILES) {
      if (existsSync(join(checkpointDir, f))) {
        copyFileSync(join(checkpointDir, f), join(tmp, f));
        files.push(f);
      }
    }
    const manifest = manifestOf(stages, revisionOf(ckpt, tensorHashes, checkpointDir));
    manifest.files = files;
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    if (existsSync(outDir)) rmSync(outDir, { recursive: true, force: true });
    renameSync(tmp, outDir);
    return manifest;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The model revision: sha256 of one text naming each metadata file's hash, then every tensor's name,
 * dtype, shape and content hash (one line of ~150 bytes per tensor, so one string, not a streaming hash;
 * the digest is the same one the earlier incremental updates of these exact pieces gave).
 */
function revisionOf(ckpt: AnyCheckpoint | Checkpoint, hashes: Map<string, string>, dir: string): string {
  let text = '';
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json']) text += `${f}\0${sha256Hex(readFileSync(join(dir, f)))}`;
  for (const name of [...hashes.keys()].sort()) {
    const e = ckpt.tensors.get(name)!;
    text += `${name}\0${e.dtype}\0${e.shape.join(',')}\0${hashes.get(name)}\n`;
  }
  return sha256Hex(text);
}

function summarise(c: MiniCPMVConfig): Manifest['config'] {
  return {
    llm: { hiddenSize: c.llm.hiddenSize, numLayers: c.llm.numLayers, numHeads: c.llm.numHeads, numKvHeads: c.llm.numKvHeads, headDim: c.llm.headDim, vocabSize: c.llm.vocabSize, ropeTheta: c.llm.ropeTheta, intermediateSize: c.llm.intermediateSize },
    vision: { hiddenSize: c.vision.hiddenSize, numLayers: c.vision.numLayers, numHeads: c.vision.numHeads, patchSize: c.vision.patchSize, positionsPerSide: c.vision.positionsPerSide },
    resampler: { queryNum: c.resampler.queryNum, embedDim: c.resampler.embedDim, numHeads: c.resampler.numHeads },
    sliceImageSize: c.sliceImageSize,
    maxSliceNums: c.maxSliceNums,
    useImageId: c.useImageId,
  };
}
