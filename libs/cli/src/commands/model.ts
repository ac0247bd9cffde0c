/**
 * `tessera model …` — checkpoint and built-model tools:
 *   generate-tiny --out DIR [--family 2.6|4.5|4.6] [--preset tiny|bench] [--seed N] [--shards N]
 *   build --checkpoint DIR --out DIR [--overwrite] [--external-data-threshold BYTES] [--decoder-weights fp32|int8|int4]
 *         [--kv-cache-dtype float32|float16|int8]   (element type of the paged decoder's KV pools; float32 is faithful)
 *   inspect DIR [--json]                      (a checkpoint dir or a built model dir)
 *   run-stage --model DIR --stage vision|resampler|embed|decoder --inputs FILE --out FILE [--mode 16x|4x]
 * For a MiniCPM-V 4.6 model the vision stage takes the HF processor's pixel_values [1, 3, 14, L] and
 * target_sizes [N, 2] and returns image_embeds [Σ tokens, llm_hidden] for `--mode` (default the config's).
 * Its decoder stage takes inputs_embeds (or input_ids) plus, optionally, a previous call's explicit state
 * (past_key_values.{i}.key|value, conv_state.{i}, recurrent_state.{i}) and writes logits and the new state
 * under the same names — no state is a prefill, T = 1 with state is a decode step (runtime/hybrid-run-stage.ts).
 * run-stage reads `.npz`, a directory of `<input name>.npy`, or one `.npy` (single-input stages, or
 * named by its file stem); it writes `.npz` when --out ends in .npz, else a directory of `<output>.npy`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { invalidArgument } from '@tessera/errors';
import {
  buildModel,
  encodeNpy,
  encodeNpz,
  generateTinyCheckpoint,
  openModel,
  parseNpy,
  parseNpz,
  readAnyCheckpoint,
  readAnyManifest,
  runHybridTextStageRaw,
  runStageRaw,
  runVision46StageRaw,
  isMiniCPMV46Dir,
  KV_CACHE_DTYPES,
  STAGES,
  type KvCacheDtype,
  type NdArray,
  type Preset,
  type StageName,
} from '@tessera/model';
import { ProgressBar } from '../progress.js';

export const summary = 'MiniCPM-V checkpoints and ONNX models: generate-tiny, build, inspect, run-stage';

export const USAGE = `usage:
  tessera model generate-tiny --out DIR [--family 2.6|4.5|4.6] [--preset tiny|bench] [--seed N] [--shards N]
  tessera model build --checkpoint DIR --out DIR [--overwrite] [--external-data-threshold BYTES]
  tessera model inspect DIR [--json]
  tessera model run-stage --model DIR --stage vision|resampler|embed|decoder --inputs FILE --out FILE [--mode 16x|4x (4.6 vision)]
    4.6 decoder: inputs_embeds|input_ids [+ past_key_values.{i}.key|value, conv_state.{i}, recurrent_state.{i}] → logits + the new state (same names)`;

const fmtBytes = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`);
const fmtParams = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${n}`);

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'generate-tiny':
      return generate(rest);
    case 'build':
      return build(rest);
    case 'inspect':
      return inspect(rest);
    case 'run-stage':
      return runStage(rest);
    default:
      console.error(USAGE);
      return sub === undefined || sub === '--help' || sub === '-h' ? 0 : 2;
  }
}

async function generate(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { out: { type: 'string' }, family: { type: 'string', default: '2.6' }, preset: { type: 'string', default: 'tiny' }, seed: { type: 'string', default: '0' }, shards: { type: 'string' } } });
  if (!values.out) throw invalidArgument('--out', 'generate-tiny needs --out DIR');
  if (values.family !== '2.6' && values.family !== '4.5' && values.family !== '4.6') throw invalidArgument('--family', `unknown family ${values.family}`, '2.6|4.5|4.6');
  if (values.preset !== 'tiny' && values.preset !== 'bench') throw invalidArgument('--preset', `unknown preset ${values.preset}`, 'tiny|bench');
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw invalidArgument('--seed', `--seed must be a non-negative integer (got ${values.seed})`);
  const shards = values.shards === undefined ? (values.preset === 'bench' ? 4 : 2) : Number(values.shards);
  let bar: ProgressBar | undefined;
  const r = await generateTinyCheckpoint(values.out, {
    family: values.family,
    preset: values.preset as Preset,
    seed,
    shards,
    onProgress: (done, total) => (bar ??= new ProgressBar('generate', total)).update(done),
  });
  bar?.finish();
  console.log(`wrote ${r.preset} MiniCPM-V ${r.family} checkpoint (seed ${r.seed}, ${fmtParams(r.parameters)} parameters, ${fmtBytes(r.bytes)} bf16) to ${r.dir}`);
  return 0;
}

async function build(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { checkpoint: { type: 'string' }, out: { type: 'string' }, overwrite: { type: 'boolean', default: false }, 'external-data-threshold': { type: 'string' }, 'decoder-weights': { type: 'string', default: 'fp32' }, 'kv-cache-dtype': { type: 'string', default: 'float32' } } });
  if (!values.checkpoint) throw invalidArgument('--checkpoint', 'build needs --checkpoint DIR');
  if (!values.out) throw invalidArgument('--out', 'build needs --out DIR');
  const dw = values['decoder-weights'];
  if (dw !== 'fp32' && dw !== 'int8' && dw !== 'int4') throw invalidArgument('--decoder-weights', `--decoder-weights must be fp32, int8 or int4 (got ${dw})`, 'fp32|int8|int4');
  const kvd = values['kv-cache-dtype'];
  if (!(KV_CACHE_DTYPES as readonly string[]).includes(kvd)) throw invalidArgument('--kv-cache-dtype', `--kv-cache-dtype must be ${KV_CACHE_DTYPES.join(', ')} (got ${kvd})`, KV_CACHE_DTYPES.join('|'));
  const bars = new Map<string, ProgressBar>();
  const m = await buildModel(values.checkpoint, values.out, {
    overwrite: values.overwrite,
    decoderWeights: dw,
    kvCacheDtype: kvd as KvCacheDtype,
    externalDataThresholdBytes: values['external-data-threshold'] === undefined ? undefined : Number(values['external-data-threshold']),
    onProgress: (stage, done, total) => {
      let b = bars.get(stage);
      if (!b) bars.set(stage, (b = new ProgressBar(`build ${stage}`, total)));
      b.update(done);
      if (done === total) b.finish();
    },
  });
  console.log(`built ${values.out} (revision ${m.revision.slice(0, 16)}…)`);
  for (const [s, st] of Object.entries(m.stages as Record<string, { file: string; externalData: string | null; parameters: number }>)) console.log(`  ${s.padEnd(10)} ${st.file}${st.externalData ? ` + ${st.externalData}` : ''}  ${fmtParams(st.parameters)} params`);
  return 0;
}

async function inspect(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  const dir = positionals[0];
  if (!dir) throw invalidArgument('DIR', 'inspect needs a checkpoint or model directory');
  if (existsSync(join(dir, 'manifest.json'))) {
    const m = readAnyManifest(dir);
    if (values.json) {
      console.log(JSON.stringify(m, null, 2));
      return 0;
    }
    console.log(`built model ${dir}\n  family   ${m.family ?? '2.6'}\n  revision ${m.revision}\n  source   ${m.source.name ?? m.source.checkpoint}\n  precision ${m.precision}`);
    if (m.family === '4.6') printConfig46(m.config);
    else printConfig(m.config);
    for (const [s, st] of Object.entries(m.stages as Record<string, (typeof m.stages)[keyof typeof m.stages]>)) {
      console.log(`\n  stage ${s}: ${st.file}${st.externalData ? ` + ${st.externalData}` : ''}, ${fmtParams(st.parameters)} params, ${fmtBytes(st.weightBytes)} weights`);
      for (const i of st.inputs) console.log(`    in  ${i.name.padEnd(28)} ${i.dtype.padEnd(8)} [${i.shape.join(', ')}]`);
      for (const o of st.outputs) console.log(`    out ${o.name.padEnd(28)} ${o.dtype.padEnd(8)} [${o.shape.join(', ')}]`);
    }
    return 0;
  }
  const ck = readAnyCheckpoint(dir);
  const config = ck.family === '4.6' ? { text: ck.config.text, vision: ck.config.vision } : { llm: ck.config.llm, vision: ck.config.vision, resampler: ck.config.resampler };
  const summaryJson = { dir, family: ck.family, config, parts: ck.parts, files: ck.weightFiles.map((f) => basename(f)) };
  if (values.json) {
    console.log(JSON.stringify(summaryJson, null, 2));
    return 0;
  }
  console.log(`checkpoint ${dir} (MiniCPM-V ${ck.family}, ${ck.weightFiles.length} safetensors file(s))`);
  if (ck.family === '4.6') printConfig46({ text: ck.config.text, vision: ck.config.vision.vision });
  else printConfig(ck.config);
  console.log('\n  part        tensors  parameters      bytes');
  let tp = 0;
  let tb = 0;
  for (const [part, s] of Object.entries(ck.parts)) {
    console.log(`  ${part.padEnd(11)} ${String(s.tensors).padStart(7)}  ${fmtParams(s.parameters).padStart(10)}  ${fmtBytes(s.bytes).padStart(9)}`);
    tp += s.parameters;
    tb += s.bytes;
  }
  console.log(`  ${'total'.padEnd(11)} ${String(ck.tensors.size).padStart(7)}  ${fmtParams(tp).padStart(10)}  ${fmtBytes(tb).padStart(9)}`);
  return 0;
}

function printConfig(c: { llm: { hiddenSize: number; numLayers: number; numHeads: number; numKvHeads: number; vocabSize: number }; vision: { hiddenSize: number; numLayers: number; numHeads: number }; resampler: { queryNum: number; numHeads: number } }): void {
  console.log(`  llm       hidden ${c.llm.hiddenSize}, ${c.llm.numLayers} layers, ${c.llm.numHeads} heads / ${c.llm.numKvHeads} kv, vocab ${c.llm.vocabSize}`);
  console.log(`  vision    hidden ${c.vision.hiddenSize}, ${c.vision.numLayers} layers, ${c.vision.numHeads} heads`);
  console.log(`  resampler ${c.resampler.queryNum} queries, ${c.resampler.numHeads} heads`);
}

function printConfig46(c: { text: { hiddenSize: number; numLayers: number; layerTypes: string[]; numHeads: number; numKvHeads: number; vocabSize: number }; vision: { hiddenSize: number; numLayers: number; numHeads: number } }): void {
  const full = c.text.layerTypes.filter((l) => l === 'full_attention').length;
  console.log(`  text      hidden ${c.text.hiddenSize}, ${c.text.numLayers} layers (${c.text.numLayers - full} Gated DeltaNet + ${full} full attention, ${c.text.numHeads} heads / ${c.text.numKvHeads} kv), vocab ${c.text.vocabSize}`);
  console.log(`  vision    hidden ${c.vision.hiddenSize}, ${c.vision.numLayers} layers, ${c.vision.numHeads} heads (no resampler)`);
}

function readArrays(path: string, stageInputs: string[]): Record<string, NdArray> {
  if (!existsSync(path)) throw invalidArgument('--inputs', `${path} does not exist`);
  if (statSync(path).isDirectory()) {
    const out: Record<string, NdArray> = {};
    for (const f of readdirSync(path).filter((x) => x.endsWith('.npy'))) out[f.slice(0, -4)] = parseNpy(readFileSync(join(path, f)), f);
    return out;
  }
  if (path.endsWith('.npz')) return parseNpz(readFileSync(path), basename(path));
  const arr = parseNpy(readFileSync(path), basename(path));
  const stem = basename(path).replace(/\.npy$/, '');
  return { [stageInputs.includes(stem) ? stem : stageInputs[0]]: arr };
}

async function runStage(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, stage: { type: 'string' }, inputs: { type: 'string' }, out: { type: 'string' }, threads: { type: 'string' }, mode: { type: 'string' } } });
  if (!values.model) throw invalidArgument('--model', 'run-stage needs --model DIR');
  if (!values.stage || !(STAGES as readonly string[]).includes(values.stage)) throw invalidArgument('--stage', `--stage must be one of ${STAGES.join('|')} (got ${values.stage})`, STAGES.join('|'));
  if (!values.inputs) throw invalidArgument('--inputs', 'run-stage needs --inputs FILE (.npz, .npy or a directory of .npy)');
  if (!values.out) throw invalidArgument('--out', 'run-stage needs --out FILE (.npz or a directory)');
  const threads = values.threads ? Number(values.threads) : undefined;
  if (isMiniCPMV46Dir(values.model) && values.stage === 'vision') {
    const t0 = performance.now();
    const outputs = await runVision46StageRaw(values.model, readArrays(values.inputs, ['pixel_values', 'target_sizes']), values.mode, { intraOpNumThreads: threads });
    writeOutputs(values.out, outputs, `vision (${values.mode ?? 'default mode'})`, performance.now() - t0);
    return 0;
  }
  if (values.mode !== undefined) throw invalidArgument('--mode', '--mode applies to the vision stage of a MiniCPM-V 4.6 model only', 'unset');
  if (isMiniCPMV46Dir(values.model)) {
    if (values.stage !== 'embed' && values.stage !== 'decoder') throw invalidArgument('--stage', `a MiniCPM-V 4.6 model has no ${values.stage} stage (stages: vision|embed|decoder)`, 'vision|embed|decoder');
    const t0 = performance.now();
    const outputs = await runHybridTextStageRaw(values.model, values.stage, readArrays(values.inputs, ['inputs_embeds', 'input_ids']), { intraOpNumThreads: threads });
    writeOutputs(values.out, outputs, values.stage, performance.now() - t0);
    return 0;
  }
  const model = await openModel(values.model, { intraOpNumThreads: values.threads ? Number(values.threads) : undefined });
  const stage = values.stage as StageName;
  const inputs = readArrays(values.inputs, model.manifest.stages[stage].inputs.map((i) => i.name));
  const t0 = performance.now();
  const outputs = await runStageRaw(model, stage, inputs);
  const ms = performance.now() - t0;
  await model.release();
  writeOutputs(values.out, outputs, stage, ms);
  return 0;
}

function writeOutputs(out: string, outputs: Record<string, NdArray>, label: string, ms: number): void {
  if (out.endsWith('.npz')) writeFileSync(out, encodeNpz(outputs));
  else {
    mkdirSync(out, { recursive: true });
    for (const [name, a] of Object.entries(outputs)) writeFileSync(join(out, `${name}.npy`), encodeNpy(a));
  }
  console.log(`${label}: ${Object.entries(outputs).map(([n, a]) => `${n} [${a.shape.join(', ')}]`).join(', ')} in ${ms.toFixed(1)} ms → ${out}`);
}
