/**
 * ResamplerService on the tiny MiniCPM-V 4.5 model: video frame groups (`group_sizes` + `temporal_ids`,
 * 4.5's 3D resampler) → one 64-token block per group equal to the float64 reference; image slices in the
 * same model unchanged; bad groups answered with INVALID_ARGUMENT naming the field and the limit; a 2.6
 * model refuses groups. Real ORT sessions; called in-process (transport is covered by resampler.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resamplingV1, tensorFromArray, tensorToFloat32, type commonV1 } from '@tessera/contracts';
import { ensureTinyModel45Paths, ensureTinyModelPaths, readCheckpoint, ReferenceModel } from '@tessera/model';
import type { CallContext } from '@tessera/runtime';
import { openResampler, type OpenedResampler } from './adapters/open-resampler.js';
import { createResamplerService, type ResamplerImpl } from './service.js';

let opened: OpenedResampler;
let opened26: OpenedResampler;
let impl: ResamplerImpl;
let impl26: ResamplerImpl;
let ref: ReferenceModel;
const ctx = { tenant: 'acme', signal: new AbortController().signal, throwIfAborted: () => {} } as unknown as CallContext;
const rt = { runtime: { intraOpNumThreads: 1, allowSpinning: false }, batchWindowMs: 2, maxBatch: 8 };
const deps = (o: OpenedResampler) =>
  createResamplerService({ batcher: o.batcher, modelRevision: '', visionHidden: o.visionHidden, maxSlices: 37, maxPatchesPerSlice: 4900, temporal: o.temporal, maxGroupFrames: 6, maxTemporalId: 72000, outputDtype: 'float32', nc: undefined, claim: {}, tensorRefThreshold: 1 << 30 });

beforeAll(async () => {
  const paths = await ensureTinyModel45Paths();
  ref = new ReferenceModel(readCheckpoint(paths.checkpoint));
  opened = await openResampler(paths.model, rt);
  opened26 = await openResampler((await ensureTinyModelPaths()).model, rt);
  impl = deps(opened);
  impl26 = deps(opened26);
}, 300_000);
afterAll(async () => {
  await opened?.model.release();
  await opened26?.model.release();
});

const feats = (rows: number, cols: number, seed: number, D: number): Float32Array => Float32Array.from({ length: rows * cols * D }, (_, i) => Math.sin(i * 0.173 + seed) * 1.5);
const slice = (rows: number, cols: number, seed: number, D = opened.visionHidden): commonV1.PatchFeatures => ({ features: tensorFromArray(feats(rows, cols, seed, D), [rows * cols, D]), patchRows: rows, patchCols: cols });
const req = (o: Partial<resamplingV1.ResampleRequest>): resamplingV1.ResampleRequest => resamplingV1.ResampleRequest.fromPartial(o);
const fieldOf = async (p: Promise<unknown>): Promise<{ code?: string; field?: string; limit?: string }> => {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: string; details?: { field?: string; limit?: string } };
    return { code: err.code, ...err.details };
  }
  throw new Error('did not throw');
};

describe('4.5 resampler service: video frame groups', () => {
  it('groups [3 frames, 2 frames, 1 image crop] → 3 blocks equal to the reference', async () => {
    const slices = [slice(2, 3, 1), slice(2, 3, 2), slice(2, 3, 3), slice(3, 2, 4), slice(3, 2, 5), slice(2, 2, 6)];
    const temporalIds = [0, 3, 7, 10, 13, -1];
    const res = await impl.resample(req({ slices, groupSizes: [3, 2, 1], temporalIds }), ctx);
    expect(res.visualTokens!.shape).toEqual([3, 64, 128]);
    const out = tensorToFloat32(res.visualTokens!);
    const D = opened.visionHidden;
    const frame = (i: number) => ({ features: feats(slices[i]!.patchRows, slices[i]!.patchCols, i + 1, D), h: slices[i]!.patchRows, w: slices[i]!.patchCols });
    const groups = [[0, 1, 2], [3, 4], [5]];
    let worst = 0;
    groups.forEach((g, k) => {
      const r = ref.resamplerGroup(g.map(frame), g.map((i) => temporalIds[i]!));
      for (let j = 0; j < r.length; j++) worst = Math.max(worst, Math.abs(out[k * r.length + j]! - r[j]!));
    });
    expect(worst).toBeLessThanOrEqual(1e-4);
    // Without groups the same slices are six image blocks.
    const plain = await impl.resample(req({ slices }), ctx);
    expect(plain.visualTokens!.shape).toEqual([6, 64, 128]);
  });

  it('bad groups name the field and the limit', async () => {
    const s = [slice(2, 3, 1), slice(2, 3, 2), slice(3, 2, 3)];
    expect(await fieldOf(impl.resample(req({ slices: s, groupSizes: [2, 2], temporalIds: [0, 1, 2] }), ctx))).toMatchObject({ field: 'group_sizes', limit: 'sum(group_sizes) = 3' });
    expect(await fieldOf(impl.resample(req({ slices: s, groupSizes: [3], temporalIds: [0, 1, 2] }), ctx))).toMatchObject({ field: 'slices[2].patch_rows', limit: 'patch grid = 2x3' });
    expect(await fieldOf(impl.resample(req({ slices: s, groupSizes: [1, 2], temporalIds: [0, 1] }), ctx))).toMatchObject({ field: 'temporal_ids', limit: 'len(temporal_ids) = 3' });
    expect(await fieldOf(impl.resample(req({ slices: s, groupSizes: [1, 1, 1], temporalIds: [0, -2, 1] }), ctx))).toMatchObject({ field: 'temporal_ids[1]', limit: '-1 <= temporal_ids[i] <= 72000' });
    const seven = Array.from({ length: 7 }, (_, i) => slice(2, 2, i));
    expect(await fieldOf(impl.resample(req({ slices: seven, groupSizes: [7], temporalIds: [0, 1, 2, 3, 4, 5, 6] }), ctx))).toMatchObject({ field: 'group_sizes[0]', limit: '1 <= group_sizes[i] <= 6' });
    expect(await fieldOf(impl.resample(req({ slices: s, temporalIds: [0, 1, 2] }), ctx))).toMatchObject({ field: 'group_sizes' });
    const s26 = [slice(2, 2, 1, opened26.visionHidden)];
    expect(await fieldOf(impl26.resample(req({ slices: s26, groupSizes: [1], temporalIds: [0] }), ctx))).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'group_sizes', limit: 'group_sizes empty' });
  });
});
