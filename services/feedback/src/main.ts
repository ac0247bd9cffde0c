/**
 * Feedback process: config → JetStream log + store + projector → FeedbackService on gRPC (:50056)
 * and NATS request/reply (tessera.feedback.v1.FeedbackService.<Method>).
 *   node --import tsx services/feedback/src/main.ts
 */
import { PROTO_FILES, PROTO_ROOT, feedbackV1 } from '@tessera/contracts';
import { consoleLogger, hosted, startService, connectNats } from '@tessera/runtime';
import { openFeedback } from './assemble.js';
import { feedbackSettings, loadFeedbackConfig } from './config.js';
import { natsObjects } from './objects.js';
import { feedbackService } from './service.js';

const config = loadFeedbackConfig();
const log = consoleLogger(config.serviceName, config.logLevel);
const settings = feedbackSettings(config);
// One connection for the log, the projector and the bindings; this process closes it last.
// noAsyncTraces: nats.js otherwise captures a stack (new Error) per request: ~7% of CPU at thousands of acks/s.
const nc = await connectNats(config, { noAsyncTraces: true });
settings.core.objects = natsObjects(nc);
const stack = await openFeedback(nc, settings, (err) => log.error('projector', { err: String(err) }));
const sweep = setInterval(() => {
  stack.store.sweepExpired(Date.now()).then(
    (n) => n > 0 && log.info('expired responses deleted', { count: n }),
    (err: unknown) => log.error('retention sweep failed', { err: String(err) }),
  );
}, config.sweepInterval);
sweep.unref();

await startService({
  config,
  nc,
  services: [hosted({ definition: feedbackV1.FeedbackServiceService, impl: feedbackService(stack.core) })],
  reflection: { protoFiles: [PROTO_FILES.feedback, PROTO_FILES.common], includeDirs: [PROTO_ROOT] },
  logger: log,
  onShutdown: async () => {
    clearInterval(sweep);
    await stack.close();
    await nc.drain();
  },
});
log.info('feedback ready', { stream: config.stream, store: config.store, appliedSeq: stack.projector.appliedSeq });
