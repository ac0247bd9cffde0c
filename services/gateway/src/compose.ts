/**
 * Wiring: config → API keys, quotas, encoder cache, image store, image pipeline and chat orchestrator
 * (domain/) → the HTTP server (http/, OpenAI-compatible) listening, and the gRPC `tessera.gateway.v1`
 * service (service.ts). The one place the gateway connects to NATS; main.ts hands the result to
 * startService and then marks the HTTP server ready.
 */
import { feedbackV1, gatewayV1, retrievalV1, SERVICES, PROTO_ROOT } from '@tessera/contracts';
import { busState, consoleLogger, hosted, natsClient, connectNats, type ServiceComposition } from '@tessera/runtime';
import { EncoderCache, ImageStore } from '@tessera/vision';
import type { GatewayConfig } from './config.js';
import { createHttpServer } from './http/server.js';
import { HttpMetrics } from './http/request-metrics.js';
import { gatewayGrpcService } from './service.js';
import { chatLimitsFrom } from './domain/openai/limits-from-config.js';
import { modelFeatures } from './domain/openai/response-format.js';
import { ChatOrchestrator, type OrchestratorOptions } from './domain/orchestrator/chat-orchestrator.js';
import { ImagePipeline } from './domain/orchestrator/image-pipeline.js';
import { VideoPipeline } from './domain/orchestrator/video-pipeline.js';
import { loadModelInfo, slicingFamily, type ModelInfo } from './domain/orchestrator/model-catalog.js';
import { ApiKeyStore } from './domain/tenancy/api-keys.js';
import { QuotaLedger } from './domain/tenancy/quota-ledger.js';
import { ImageCostBudget } from './domain/tenancy/image-cost.js';
import { tenantUsageMetrics } from './domain/tenancy/usage-metrics.js';
import { extraRoutes } from './http/extra-routes.js';
import { adminRoutes } from './http/admin-routes.js';
import { embeddingsRoute } from './http/embeddings-route.js';
import { tokenizeRoutes } from './http/tokenize-routes.js';
import { Tokenization } from './domain/tokenizer/tokenization.js';
import { TenantErasure } from './domain/tenancy/tenant-erasure.js';
import { StoredResponses } from './domain/responses/stored-responses.js';
import { KvResponseStore } from './adapters/responses/kv-response-store.js';
import { storedResponsesRoute } from './http/stored-responses-routes.js';
import { hubModelNamespace, loadSiteConfig, siteInboxPrefix } from '@tessera/edge';
import { checkSiteModels, feedbackWithHubAnswers, fitsInlineAtHub, loadHubModelCards, openEdgeSite } from './adapters/edge/edge-site.js';
import { uplinkBinding } from './adapters/edge/uplink.js';

export interface GatewayComposition extends ServiceComposition {
  /** Call once startService returned: /readyz answers 200 from then on (while NATS is connected). */
  markReady(): void;
}

export async function composeGateway(config: GatewayConfig): Promise<GatewayComposition> {
  const log = consoleLogger(config.serviceName, config.logLevel);
  // An edge site's gateway: its replies and controls use the site's inbox prefix, the only inboxes
  // its leaf credential may receive on at the hub.
  const site = config.siteConfig ? loadSiteConfig(config.siteConfig) : undefined;
  const nc = await connectNats(config, site ? { inboxPrefix: siteInboxPrefix(site.site) } : {});
  const model = loadModelInfo(config.modelDir, config.modelId);
  const limits = chatLimitsFrom(config);
  const keys = ApiKeyStore.fromFile(config.apiKeysFile, {
    requestsPerMinute: config.quotaRequestsPerMinute,
    tokensPerMinute: config.quotaTokensPerMinute,
    concurrentStreams: config.quotaConcurrentStreams,
    maxImagesPerRequest: config.quotaMaxImagesPerRequest,
    maxImagePixels: config.quotaMaxImagePixels,
  });
  const quotas = new QuotaLedger();
  tenantUsageMetrics(quotas);
  const cache = await EncoderCache.open(nc, { bucket: config.encoderCacheBucket, ttlMs: config.encoderCacheTtl, maxBytes: config.encoderCacheMaxBytes, replicas: config.jetstreamReplicas });
  const imageStore = await ImageStore.open(nc, { bucket: config.imageBucket, retentionMs: config.imageRetention, replicas: config.jetstreamReplicas });
  // /v1/responses `store`: this connection's JetStream, so an edge site stores in its own domain (uplink down or not).
  const responses =
    config.responsesTtl > 0
      ? new StoredResponses(await KvResponseStore.open(nc, { bucket: config.responsesBucket, ttlMs: config.responsesTtl, maxValueBytes: config.responsesMaxBytes, replicas: config.jetstreamReplicas }), imageStore, { ttlMs: config.responsesTtl, maxBytes: config.responsesMaxBytes, log })
      : undefined;
  const orchestrator = (m: ModelInfo, decoderAt?: OrchestratorOptions['decoderAt']) => {
    const images = new ImagePipeline(nc, cache, imageStore, m.revision, m.queryNum, {
      limits: { maxBytes: config.maxImageBytes, maxPixels: config.maxImagePixels, minSide: 2, maxAspectRatio: 200, maxSliceNums: config.maxSliceNums },
      scaleResolution: config.scaleResolution,
      defaultMaxSliceNums: config.defaultMaxSliceNums,
      useImageId: config.useImageId,
      remoteFetch: { timeoutMs: config.remoteImageTimeout, maxBytes: config.maxImageBytes },
      family: slicingFamily(m.family),
    });
    return new ChatOrchestrator(nc, m, images, log, {
      recordResponses: config.recordResponses,
      // The hub decoder's site subjects are request/reply (its work queue is the hub's own).
      decoderWorkQueue: config.decoderWorkQueue && !decoderAt,
      decoderLiveness: { heartbeatMs: config.streamHeartbeat, resumeAttempts: config.decoderResumeAttempts },
      ...(decoderAt && { decoderAt }),
      imageCost: new ImageCostBudget(config.maxRequestImageCost, config.quotaImageCostPerMinute),
      // Video parts pass validation only for a family with video (4.5), so the pipeline is idle otherwise.
      videos: new VideoPipeline(images, m.revision, { maxFramesPerCall: config.videoFramesPerCall }),
    });
  };
  const chat = orchestrator(model);
  if (site) checkSiteModels(site, model.id);
  // Hub models this site orchestrates itself (route "stages"): their text requests call the hub
  // decoder over the leaf on its model's site subjects; answers are recorded in this site's feedback.
  const cards = site && loadHubModelCards(site);
  const stages = cards && new Map([...cards].map(([id, card]) => [id, { chat: orchestrator(card, { namespace: hubModelNamespace(card.revision), acceptTimeoutMs: config.uplinkAcceptTimeout }), family: card.family, fitsInline: fitsInlineAtHub }]));
  const edge = site ? await openEdgeSite(nc, site, chat, { heartbeatMs: config.streamHeartbeat, uplink: { direct: config.uplinkDirect, acceptTimeoutMs: config.uplinkAcceptTimeout }, log, ...(stages && { stages }) }) : undefined;
  const localFeedback = natsClient(nc, SERVICES.feedback.definition as typeof feedbackV1.FeedbackServiceService);
  // At an edge site, feedback on a hub model's answer goes to the hub, from either edge.
  const feedback = edge ? feedbackWithHubAnswers(localFeedback, edge.hub) : localFeedback;
  const retrieval = natsClient(nc, SERVICES.retrieval.definition as typeof retrievalV1.RetrievalServiceService);

  let ready = false;
  // One set of request-level series for both edges: a gRPC chat counts in vllm:* exactly like an HTTP one.
  const metrics = new HttpMetrics();
  const features = modelFeatures(model.family);
  const models = () => edge?.router.models() ?? [model.id];
  const whereModelsRun = edge && (() => edge.router.whereModelsRun());
  const tokenization = new Tokenization(model, { models, ...(whereModelsRun && { whereModelsRun }), features, decoderMaxContext: config.decoderMaxContext, decoderEnableThinking: config.decoderEnableThinking, ...(cards && { cards }) });
  const http = createHttpServer({
    metrics,
    keys,
    quotas,
    chat: edge?.router ?? chat,
    limits,
    models,
    ...(whereModelsRun && { whereModelsRun }),
    // vLLM's model card field `max_model_len` (clients size prompts by it): the decoder's context, as /tokenize reports it.
    // (A hub model's card at an edge site gives its context too.)
    describeModel: (id) => ({ ...(id === model.id && { family: model.family, downsample_modes: model.downsampleModes, max_model_len: tokenization.maxModelLen() }), ...(cards?.has(id) && { max_model_len: tokenization.maxModelLen(id) }), ...edge?.router.describe(id) }),
    features: edge ? (id: string) => edge.router.features(id, features) : features,
    ...(responses && { responses }),
    maxBodyBytes: config.maxBodyBytes,
    requestTimeoutMs: config.requestTimeout,
    ready: () => ready && busState(nc).connected,
    routes: [
      embeddingsRoute({ keys, quotas, retrieval, maxBodyBytes: config.maxBodyBytes, timeoutMs: config.requestTimeout }),
      tokenizeRoutes({ keys, tokenization, limits, maxBodyBytes: config.maxBodyBytes }),
      storedResponsesRoute({ keys, ...(responses && { responses }) }),
      ...adminRoutes({ keys, erasure: new TenantErasure({ cache, images: imageStore, feedback, retrieval, ...(responses && { responses }) }) }),
      ...extraRoutes({ keys, nc, feedback, model, webDir: config.webDir, limits }),
    ],
  });
  await new Promise<void>((resolve) => http.listen(config.httpPort, config.httpHost, resolve));

  return {
    nc,
    services: [
      hosted({
        definition: gatewayV1.GatewayServiceService,
        impl: gatewayGrpcService({ keys, quotas, chat, limits: () => limits, model, feedback, metrics, features }),
        requireTenant: false,
        nats: false,
      }),
      // Hub: chats forwarded by edge sites over their leaf links (adapters/edge/hub-chat.ts sends them).
      ...(config.siteUplink ? [uplinkBinding({ keys, quotas, chat, limits: () => limits, model, feedback, metrics, features }, config.uplinkConcurrency)] : []),
    ],
    reflection: { protoFiles: [...SERVICES.gateway.protoFiles], includeDirs: [PROTO_ROOT] },
    onShutdown: async () => {
      edge?.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await nc.drain().catch(() => {});
    },
    logger: log,
    markReady() {
      ready = true;
      const address = http.address();
      log.info('gateway.http_listening', { port: typeof address === 'object' && address ? address.port : config.httpPort, model: model.id, revision: model.revision });
    },
  };
}
