/**
 * Writes deploy/nats/{stream,consumer}-*.json and the chart's copies (helm/tessera/files/jetstream/)
 * from the code that creates the streams: libs/runtime/src/nats/streams.ts (work queues) and
 * services/feedback/src/adapters/log/feedback-log.ts (the feedback log, default config).
 *   node --import tsx scripts/gen-jetstream.ts
 * libs/ctl/src/jetstream-files.test.ts fails when the checked-in files differ from what this writes.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { feedbackSettings, feedbackStreamConfig, loadFeedbackConfig } from '@tessera/feedback';
import { workConsumerConfig, workStreamConfig } from '@tessera/runtime';

/** The stages with a JetStream work queue. */
export const WORK_STAGES = ['slicer', 'resampler', 'decoder'] as const;
export const JETSTREAM_DIRS = ['deploy/nats', 'helm/tessera/files/jetstream'] as const;

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/** File name → contents, for each of JETSTREAM_DIRS. */
export function jetstreamFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const stage of WORK_STAGES) {
    out[`stream-${stage}.json`] = json(workStreamConfig(stage));
    // No num_replicas in the file: a consumer then inherits its stream's, which the chart's hook Job
    // sets from jetstream.replicas (the services pass TESSERA_JETSTREAM_REPLICAS to both).
    const { num_replicas: _inherit, ...consumer } = workConsumerConfig(stage);
    out[`consumer-${stage}.json`] = json(consumer);
  }
  // Defaults only: no edge caps, no hub sources (those are per-deployment env, applied by the service).
  out['stream-feedback.json'] = json(feedbackStreamConfig(feedbackSettings(loadFeedbackConfig({})).log));
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const files = jetstreamFiles();
  for (const dir of JETSTREAM_DIRS) for (const [name, text] of Object.entries(files)) writeFileSync(join(root, dir, name), text);
  console.log(`wrote ${Object.keys(files).length} files into ${JETSTREAM_DIRS.join(' and ')}`);
}
