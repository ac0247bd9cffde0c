/**
 * deploy/nats/*.json and the chart's helm/tessera/files/jetstream/*.json are generated from the code
 * that creates the streams (libs/runtime streams.ts, the feedback log): one definition, never three
 * that disagree (issue 14). Regenerate with `node --import tsx scripts/gen-jetstream.ts`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JETSTREAM_DIRS, jetstreamFiles } from '../../../scripts/gen-jetstream.js';

const REPO_ROOT = join(import.meta.dirname, '../../..');

describe('JetStream definitions have one source (the code)', () => {
  const want = jetstreamFiles();

  it.each(JETSTREAM_DIRS)('%s holds exactly what the code defines', (dir) => {
    const files = readdirSync(join(REPO_ROOT, dir)).filter((f) => f.endsWith('.json')).sort();
    expect(files).toEqual(Object.keys(want).sort());
    for (const f of files) expect(readFileSync(join(REPO_ROOT, dir, f), 'utf8'), `${dir}/${f}: run node --import tsx scripts/gen-jetstream.ts`).toBe(want[f]);
  });

  it('work queues refuse new work when full; the feedback log never drops a record for space', () => {
    for (const stage of ['slicer', 'resampler', 'decoder']) {
      expect(JSON.parse(want[`stream-${stage}.json`])).toMatchObject({ retention: 'workqueue', discard: 'new', max_msgs: 100_000, max_age: 3_600_000_000_000 });
    }
    expect(JSON.parse(want['stream-feedback.json'])).toMatchObject({ retention: 'limits', discard: 'new', max_msgs: -1, max_bytes: -1, max_age: 91 * 86_400_000_000_000 });
  });
});
