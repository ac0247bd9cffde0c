import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helm-render.js';

// No Docker engine here, so the Dockerfiles cannot be built; this checks the invariants the chart
// relies on: non-root UID 10001, the CONTRIBUTING.md ports, cpu + cuda targets for the GPU stages.
const PORTS: Record<string, number[]> = {
  gateway: [50051, 9465, 8080],
  slicer: [50052, 9466],
  resampler: [50053, 9467],
  decoder: [50054, 9468],
  retrieval: [50055, 9469],
  feedback: [50056, 9470],
};
const GPU = new Set(['slicer', 'resampler', 'decoder']);

describe('deploy/<service>/Dockerfile', () => {
  it.each(Object.keys(PORTS))('%s: multi-stage, non-root, shared ports, runs its own entry', (name) => {
    const text = readFileSync(join(REPO_ROOT, 'deploy', name, 'Dockerfile'), 'utf8');
    const stages = [...text.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]);
    expect(stages).toEqual(GPU.has(name) ? ['deps', 'deps-cuda', 'cuda', 'cpu'] : ['deps', 'runtime']);
    // Every runtime stage switches to the chart's UID before its entrypoint.
    const runtimes = text.split(/^FROM /m).filter((s) => /ENTRYPOINT/.test(s));
    expect(runtimes).toHaveLength(GPU.has(name) ? 2 : 1);
    for (const r of runtimes) {
      expect(r).toMatch(/^USER 10001:10001$/m);
      expect(r).toContain(`ENTRYPOINT ["node", "--enable-source-maps", "--import", "tsx", "services/${name}/src/main.ts"]`);
      expect(r).toContain(`TESSERA_GRPC_PORT=${PORTS[name]![0]}`);
      expect(r.match(/^EXPOSE (.*)$/m)![1]!.split(' ').map(Number)).toEqual(PORTS[name]);
    }
    if (GPU.has(name)) {
      expect(text).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 node script\/install\.js/);
      expect(text).toMatch(/TESSERA_EXECUTION_PROVIDER=cuda/);
      expect(text).toMatch(/TESSERA_EXECUTION_PROVIDER=cpu/);
    }
  });
});
