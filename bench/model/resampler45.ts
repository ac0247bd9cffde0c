/**
 * MiniCPM-V 4.5's 3D resampler on the REAL 4.5 shapes (`bench` preset of PRESETS_45: kv 1152 → embed 4096,
 * 32 heads, 64 queries; ≈ 89 M params, seeded random fp32 weights, resampler graph only, built into a temp
 * dir). Video frames of 448² (32×32 = 1024 patches each):
 *   - ms per group of 1, 3 (upstream default packing) and 6 (the maximum) frames, and per frame;
 *   - visual tokens per frame (64 / packing) — what the decoder then prefills;
 *   - 8 single-frame groups in one call vs one 6-frame group (same query work, longer key axis).
 * Run: `npx tsx bench/model/resampler45.ts [--quick] [--threads N]`. Prints the load average.
 */
import { join } from 'node:path';
import { buildResamplerGraph, configJson45, expectedTensors, GraphBuilder, parseConfig, PRESETS_45, ResamplerStage, resamplerSignature, StageSession, WeightSink, type SliceFeatures } from '@tessera/model';
import { loadAvg as load, log, runBench, seededInit, timeIt } from './probes.js';

runBench('resampler45', async ({ quick, threads, rt, dir, cleanup }) => {
  const cfg = parseConfig(configJson45('bench'));
  const r = cfg.resampler;
  const specs = new Map(expectedTensors(cfg).filter((t) => t.name.startsWith('resampler.')).map((t) => [t.name, t]));
  log(`bench-4.5 3D resampler: kv ${r.kvDim} → ${r.embedDim}, ${r.numHeads} heads, ${r.queryNum} queries (text ${PRESETS_45.bench.llm.layers} layers × ${PRESETS_45.bench.llm.hidden}); threads ${threads}; load ${load()}`);
  const sink = new WeightSink(join(dir, 'resampler.onnx.data'));
  const g = new GraphBuilder('tessera_resampler', sink);
  buildResamplerGraph(g, cfg, seededInit(specs, (init, fanIn) => (init === 'weight' ? 1 / Math.sqrt(fanIn) : init === 'bias' ? 0.02 : init === 'embed' ? 1 : 0.1)));
  sink.close();
  g.save(join(dir, 'resampler.onnx'));
  const sig = resamplerSignature(cfg);
  const session = new StageSession('resampler', dir, { file: 'resampler.onnx', externalData: sink.dataFile, inputs: sig.inputs, outputs: sig.outputs, parameters: g.parameters, weightBytes: sink.bytes }, rt);
  cleanup(() => session.release());
  await session.load();
  const stage = new ResamplerStage(session, cfg);
  log(`built + loaded: ${(g.parameters / 1e6).toFixed(1)} M params, ${(sink.bytes / 1e6).toFixed(0)} MB fp32`);

  const frame = (seed: number): SliceFeatures => ({ tgtSize: [32, 32], features: Float32Array.from({ length: 1024 * r.kvDim }, (_, i) => Math.sin(i * 0.011 + seed)) });
  const frames = Array.from({ length: 8 }, (_, i) => frame(i));
  log(`\nframes of 448² (1024 patches); load ${load()}`);
  log('packing  ms/group  ms/frame  tokens/frame');
  for (const k of [1, 3, 6]) {
    const group = { frames: frames.slice(0, k), temporalIds: Array.from({ length: k }, (_, i) => 10 * i) };
    const st = await timeIt(quick ? 2 : 5, () => stage.resampleGroups([group]), 1);
    log(`${String(k).padStart(7)}  ${st.median.toFixed(1).padStart(8)}  ${(st.median / k).toFixed(1).padStart(8)}  ${(64 / k).toFixed(1).padStart(12)}`);
  }
  const eight = await timeIt(quick ? 2 : 4, () => stage.resampleGroups(frames.map((f, i) => ({ frames: [f], temporalIds: [i] }))), 1);
  log(`8 single-frame groups in one call: ${eight.median.toFixed(1)} ms (${(eight.median / 8).toFixed(1)} ms/frame, 64 tokens/frame); load ${load()}`);
});
