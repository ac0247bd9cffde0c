/**
 * Feedback process: config → compose (NATS, JetStream log, store, projector, FeedbackService) →
 * startService (gRPC :50056, NATS request/reply, /metrics, graceful shutdown).
 *   node services/feedback/dist/main.js   (development: node --import tsx services/feedback/src/main.ts)
 */
import { startService } from '@tessera/runtime';
import { composeFeedback } from './compose.js';
import { loadFeedbackConfig } from './config.js';

const config = loadFeedbackConfig();
const { stack, ...composition } = await composeFeedback(config);
await startService({ config, ...composition });
composition.logger?.info('feedback ready', { stream: config.stream, store: config.store, appliedSeq: stack.projector.appliedSeq });
