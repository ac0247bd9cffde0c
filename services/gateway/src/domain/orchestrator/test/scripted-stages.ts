/**
 * Test-only: a scripted decoder (`generate` as the test writes it) and a feedback service that keeps
 * every record, hosted on the test's nats-server in place of the real ones, so the orchestrator runs
 * over a real bus (the orchestrator tests share it).
 */
import type { NatsConnection } from 'nats';
import { commonServiceConfig, loadConfig } from '@tessera/config';
import { commonV1, decodingV1, feedbackV1 } from '@tessera/contracts';
import { hosted, startService, type CallContext, type ServiceHost } from '@tessera/runtime';

export type ScriptedGenerate = (req: decodingV1.GenerateRequest, ctx: CallContext) => AsyncIterable<decodingV1.GenerateResponse>;

/** Starts the scripted stages (and `extra` ones the test hosts too); `recorded` receives every ResponseRecord the orchestrator sends. */
export function startScriptedStages(bus: { nc: NatsConnection; url: string }, generate: ScriptedGenerate, recorded: feedbackV1.ResponseRecord[], extra: ReadonlyArray<ReturnType<typeof hosted>> = []): Promise<ServiceHost> {
  const config = loadConfig(commonServiceConfig({ serviceName: 'scripted-stages', grpcPort: 0, metricsPort: 0 }), { NATS_URL: bus.url, TESSERA_SHUTDOWN_GRACE: '1s' });
  return startService({
    config,
    nc: bus.nc,
    services: [
      hosted({ definition: { generate: decodingV1.DecoderServiceService.generate }, impl: { generate } }),
      hosted({
        definition: { recordResponse: feedbackV1.FeedbackServiceService.recordResponse },
        impl: {
          async recordResponse(req: feedbackV1.RecordResponseRequest) {
            recorded.push(req.response!);
            return { responseId: req.response!.responseId, created: true };
          },
        },
      }),
      ...extra,
    ],
    grpc: false,
    handleSignals: false,
    metricsEndpoint: false,
    telemetry: false,
    announceReady: false,
  });
}

/** One decoder chunk: `textDelta` as one token, not finished, unless `over` says otherwise. */
export function decoderChunk(textDelta: string, over: Partial<decodingV1.GenerateResponse> = {}): decodingV1.GenerateResponse {
  return { textDelta, tokenIds: [1], logprobs: [], finishReason: commonV1.FinishReason.UNSPECIFIED, matchedStop: '', reasoning: false, ...over } as decodingV1.GenerateResponse;
}
