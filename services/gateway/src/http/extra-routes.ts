import type { NatsConnection } from 'nats';
import type { feedbackV1 } from '@tessera/contracts';
import type { ServiceClient } from '@tessera/runtime';
import type { ChatLimits } from '../openai/limits.js';
import type { ModelInfo } from '../orchestrator/model-catalog.js';
import type { ApiKeyStore } from '../tenancy/api-keys.js';
import type { Route } from './server.js';

export interface ExtraRouteDeps {
  keys: ApiKeyStore;
  nc: NatsConnection;
  feedback: ServiceClient<typeof feedbackV1.FeedbackServiceService>;
  model: ModelInfo;
  webDir: string;
  limits: ChatLimits;
}

/** Routes beyond the OpenAI API (feedback, playground); each module adds its own. */
export function extraRoutes(_deps: ExtraRouteDeps): Route[] {
  return [];
}
