import type { NatsConnection } from 'nats';
import type { feedbackV1 } from '@tessera/contracts';
import type { ServiceClient } from '@tessera/runtime';
import { DEFAULT_IMAGE_LIMITS } from '@tessera/vision';
import { WEB_DIST_DIR } from '@tessera/web';
import type { ChatLimits } from '../domain/openai/limits.js';
import { slicingFamily, type ModelInfo } from '../domain/orchestrator/model-catalog.js';
import type { ApiKeyStore } from '../domain/tenancy/api-keys.js';
import { feedbackRoutes } from './web/feedback-routes.js';
import { slicePlanRoute } from './web/slice-plan-route.js';
import { staticFiles } from './web/static-files.js';
import type { Route } from './server.js';

export interface ExtraRouteDeps {
  keys: ApiKeyStore;
  nc: NatsConnection;
  feedback: ServiceClient<typeof feedbackV1.FeedbackServiceService>;
  model: ModelInfo;
  webDir: string;
  limits: ChatLimits;
}

/** Feedback calls are small; 10 s covers a projector catch-up (feedback waits up to 5 s for it). */
const FEEDBACK_TIMEOUT_MS = 10_000;
/** A feedback body: 64 spans and a 4096-code-point comment fit in far less than 1 MiB. */
const FEEDBACK_MAX_BODY = 1024 * 1024;

/** Routes beyond the OpenAI API: feedback over HTTP, the slice plan, and the playground at `/`. */
export function extraRoutes(deps: ExtraRouteDeps): Route[] {
  return [
    feedbackRoutes({ keys: deps.keys, feedback: deps.feedback, maxBodyBytes: FEEDBACK_MAX_BODY, timeoutMs: FEEDBACK_TIMEOUT_MS }),
    slicePlanRoute({
      keys: deps.keys,
      limits: { ...DEFAULT_IMAGE_LIMITS, maxBytes: deps.limits.maxImageBytes, maxSliceNums: deps.limits.maxSliceNums },
      slicing: deps.model.slicing,
      queryNum: deps.model.queryNum,
      family: slicingFamily(deps.model.family),
    }),
    staticFiles(deps.webDir || WEB_DIST_DIR),
  ];
}
