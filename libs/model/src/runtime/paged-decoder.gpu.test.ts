/**
 * The GPU suite (paged-decoder.gpu-suite.test.ts: the paged decoder on a GPU execution provider against the
 * host path) in a vitest process of its own, started from here.
 *
 * Why a process of its own: onnxruntime-node 1.30's WebGPU EP on Mesa's lavapipe (the software GPU of
 * CPU-only machines) aborts its process now and then as sessions come and go — a C++ assert in the EP,
 * once in five loaded runs before holdGpuDevice and again in CI after it (2026-12-04) — and a native
 * abort inside a forked worker of the main run ends the whole run ("Channel closed", no summary, every
 * later file unrun). Here it ends only the inner run. The suite's own failures fail this test with
 * their messages. An abort on the software GPU is printed with the inner run's output and the suite
 * runs once more; a second abort, or any abort on a real GPU (TESSERA_EXECUTION_PROVIDER=webgpu|cuda),
 * fails it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { spawnCommand } from '@tessera/testing';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const onRealGpu = process.env.TESSERA_EXECUTION_PROVIDER === 'cuda' || process.env.TESSERA_EXECUTION_PROVIDER === 'webgpu';

interface JsonReport {
  numPassedTests: number;
  numTotalTests: number;
  testResults: Array<{ name: string; assertionResults: Array<{ fullName: string; status: string; failureMessages: string[] }> }>;
}

interface SuiteRun {
  exitCode: number | null;
  /** The inner run's JSON report: absent when its worker died before the run could write it. */
  report?: JsonReport;
  output: readonly string[];
}

async function runSuite(): Promise<SuiteRun> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-gpu-suite-'));
  const reportFile = join(dir, 'report.json');
  try {
    // The outer worker's VITEST_* variables would make the inner vitest think it is a worker itself.
    const env = { ...Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('VITEST')).map((k) => [k, undefined])), NO_COLOR: '1', FORCE_COLOR: undefined };
    const child = await spawnCommand(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'vitest.gpu.config.ts', '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`], { cwd: ROOT, env });
    const exitCode = await child.exited;
    const report = existsSync(reportFile) ? (JSON.parse(readFileSync(reportFile, 'utf8')) as JsonReport) : undefined;
    return { exitCode, ...(report && { report }), output: child.lines };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

it(`the paged decoder's GPU suite passes (its own vitest process; an abort of the software GPU's EP is retried once)`, async () => {
  let run = await runSuite();
  if (!run.report && !onRealGpu) {
    console.log(`[gpu] the GPU suite's process died before its report (exit ${run.exitCode}); running it once more. Its output:\n${run.output.slice(-60).join('\n')}`);
    run = await runSuite();
  }
  const tail = run.output.slice(-80).join('\n');
  expect(run.report, `the GPU suite's process died before its report (exit ${run.exitCode}):\n${tail}`).toBeDefined();
  const failed = run.report!.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status !== 'passed').map((a) => `${a.fullName}: ${a.status}\n${a.failureMessages.join('\n')}`));
  expect(failed.join('\n\n'), tail).toBe('');
  expect(run.report!.numTotalTests, tail).toBeGreaterThan(0);
  expect(run.report!.numPassedTests, tail).toBe(run.report!.numTotalTests);
  expect(run.exitCode, tail).toBe(0);
  for (const line of run.output.filter((l) => l.startsWith('[gpu]'))) console.log(line);
}, 600_000);
