/**
 * MiniCPM-V 4.6 vision stage per crop, 16x vs 4x, on the REAL 4.6 vision shapes (SigLIP2-400M:
 * hidden 1152, 27 layers, 16 heads, MLP 4304; window merger after layer 6; merger to 1024) with
 * seeded random fp32 weights (≈548 M parameters, 2.2 GB; built once into a temp dir, external data).
 *   - ms per 448² crop (1024 patches → 64 tokens in 16x, 256 in 4x) and per crop in a batch of 4;
 *   - the 4x / 16x time ratio next to the FLOP ratio computed from the shapes;
 *   - achieved GFLOP/s as a fraction of an ORT MatMul [1024, 1152]·[1152, 4304] measured in the same run.
 * Run: `npx tsx bench/model/vision46.ts [--quick] [--threads N]` — heavy (tens of seconds per crop on
 * 2 cores); --quick times one run per case. Prints the load average next to the numbers.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, StageSession, VISION46_REAL, WeightSink, buildVision46Graph, parseVision46Config, vision46ConfigKeys, vision46ExpectedTensors, Vision46Stage, type SlicePixels, type Vision46Config } from '@tessera/model';
import { loadAvg, log, matmulProbe, runBench, seededInit, timeIt } from './probes.js';

const f1 = (x: number): string => x.toFixed(1);

/** Forward FLOPs of one crop of N patches (multiply-add = 2), from the shapes. */
function flops(cfg: Vision46Config, N: number, mode: '16x' | '4x'): number {
  const v = cfg.vision;
  const D = v.hiddenSize;
  const I = v.intermediateSize;
  const layer = (n: number) => 2 * n * (4 * D * D + 2 * D * I) + 4 * n * n * D;
  let total = 2 * N * D * v.numChannels * v.patchSize * v.patchSize;
  let n = N;
  for (let i = 0; i < v.numLayers; i++) {
    total += layer(n);
    if (i === cfg.insertLayerId && mode === '16x') {
      total += 2 * n * 4 * D * D + 4 * n * 4 * D + 2 * (n / 4) * (2 * 4 * D * 4 * I);
      n /= 4;
    }
  }
  return total + 2 * (n / 4) * (4 * D * 4 * D + 4 * D * cfg.llmHiddenSize);
}

function crop(side: number, seed: number): SlicePixels {
  const data = new Float32Array(3 * side * side);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.013 + seed) * 0.9;
  return { data, height: side, width: side };
}

runBench('vision46', async ({ quick, threads, rt, dir, cleanup }) => {
  const cfg = parseVision46Config({ ...vision46ConfigKeys(VISION46_REAL), text_config: { hidden_size: 1024 } });
  const specs = new Map(vision46ExpectedTensors(cfg).map((t) => [t.name, t]));
  const params = [...specs.values()].reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  log(`MiniCPM-V 4.6 vision, real shapes: ${(params / 1e6).toFixed(0)} M parameters (fp32 ${(params * 4e-9).toFixed(2)} GB), ${threads} intra-op thread(s)${quick ? ', quick' : ''}`);
  log(`load average ${loadAvg()} on ${cpus().length} cores\n`);

  const t0 = performance.now();
  const sink = new WeightSink(join(dir, 'vision.onnx.data'));
  const g = new GraphBuilder('tessera_vision', sink);
  buildVision46Graph(g, cfg, seededInit(specs, (init, fanIn) => (init === 'weight' ? 1 / Math.sqrt(fanIn) : init === 'bias' ? 0.02 : init === 'norm' ? 0.1 : 1)));
  sink.close();
  g.save(join(dir, 'vision.onnx'));
  log(`built the graph in ${f1((performance.now() - t0) / 1000)} s`);
  const session = new StageSession('vision', dir, { file: 'vision.onnx', externalData: sink.dataFile, inputs: g.inputs, outputs: g.outputs, parameters: g.parameters, weightBytes: sink.bytes }, rt);
  cleanup(() => session.release());
  const stage = new Vision46Stage(session, cfg, 4);
  const t1 = performance.now();
  await session.load();
  log(`session created in ${f1((performance.now() - t1) / 1000)} s\n`);

  const mm = await matmulProbe(rt, 1024, 1152, 4304);
  const peak = (await mm.measure(quick ? 2 : 5)).median;
  await mm.release();
  log(`baseline: ORT MatMul [1024, 1152]·[1152, 4304] ${f1(peak)} GFLOP/s\n`);

  const one = [crop(448, 1)];
  const four = [crop(448, 2), crop(448, 3), crop(448, 4), crop(448, 5)];
  const runs = quick ? 1 : 3;
  const res: Record<string, { one: number; four: number }> = {};
  log('mode  tokens/crop  1 crop (ms)  4 crops (ms/crop)  GFLOP/crop  GFLOP/s  of MatMul');
  for (const mode of ['16x', '4x'] as const) {
    const s1 = await timeIt(runs, () => stage.encodeCrops(one, mode), 1);
    const s4 = await timeIt(quick ? 1 : 2, () => stage.encodeCrops(four, mode), 0);
    const gf = flops(cfg, 1024, mode) / 1e9;
    res[mode] = { one: s1.median, four: s4.median / 4 };
    const rate = gf / (s1.median / 1000);
    log(`${mode.padEnd(5)} ${String(mode === '16x' ? 64 : 256).padStart(11)}  ${f1(s1.median).padStart(11)}  ${f1(s4.median / 4).padStart(17)}  ${f1(gf).padStart(10)}  ${f1(rate).padStart(7)}  ${((100 * rate) / peak).toFixed(0).padStart(8)} %`);
  }
  const flopRatio = flops(cfg, 1024, '4x') / flops(cfg, 1024, '16x');
  log(`\n4x / 16x time per crop: ${(res['4x'].one / res['16x'].one).toFixed(2)} (1 crop), ${(res['4x'].four / res['16x'].four).toFixed(2)} (batch of 4); FLOP ratio ${flopRatio.toFixed(2)}`);
  log(`load average ${loadAvg()}`);
});
