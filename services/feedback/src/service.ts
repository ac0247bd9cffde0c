import { feedbackV1 } from '@tessera/contracts';
import { invalidArgument, type CallContext, type ServiceImpl } from '@tessera/runtime';
import type { FeedbackCore } from './domain/feedback-core.js';
import { tarBundleChunks, type BundleItem } from './domain/export/bundle.js';
import type { ExportSummary } from './domain/export/exporter.js';
import { FORMAT_IN, REASON_IN, REASON_OUT, feedbackIn, feedbackOut, filterIn, responseIn, responseOut } from './wire.js';

type Def = typeof feedbackV1.FeedbackServiceService;

/** The one implementation of tessera.feedback.v1.FeedbackService; @tessera/runtime binds it to gRPC and NATS. */
export function feedbackService(core: FeedbackCore): ServiceImpl<Def> {
  return {
    async recordResponse(req: feedbackV1.RecordResponseRequest, ctx: CallContext) {
      return core.recordResponse(ctx.tenant, responseIn(req.response));
    },

    async submitFeedback(req: feedbackV1.SubmitFeedbackRequest, ctx: CallContext) {
      const { record, duplicate } = await core.submitFeedback(ctx.tenant, feedbackIn(req.feedback));
      return { record: feedbackOut(record), duplicate };
    },

    async getResponse(req: feedbackV1.GetResponseRequest, ctx: CallContext) {
      const { response, feedback } = await core.getResponse(ctx.tenant, req.responseId);
      return { response: responseOut(response), feedback: feedback.map(feedbackOut) };
    },

    async listFeedback(req: feedbackV1.ListFeedbackRequest, ctx: CallContext) {
      const { feedback, nextPageToken } = await core.listFeedback(ctx.tenant, filterIn(req.filter), req.pageSize || 50, req.pageToken);
      return { feedback: feedback.map(feedbackOut), nextPageToken };
    },

    async *export(req: feedbackV1.ExportRequest, ctx: CallContext): AsyncIterable<feedbackV1.ExportResponse> {
      const format = FORMAT_IN[req.format];
      if (!format) throw invalidArgument('format', 'format must be one of TRL_DPO, OPENAI_DPO, RLAIF_V, KTO, SFT, SPANS_SIDECAR');
      const b = req.balance;
      const balance = b && (b.maxRowsPerCategory > 0 || b.maxLabelRatio > 0) ? { maxRowsPerCategory: b.maxRowsPerCategory, maxLabelRatio: b.maxLabelRatio, seed: b.seed } : undefined;
      const bundle = req.imageMode === feedbackV1.ImageMode.BUNDLE;
      const imageMode = req.imageMode === feedbackV1.ImageMode.INLINE || bundle ? 'inline' : 'ref';
      const items = core.export(ctx.tenant, { format, filter: filterIn(req.filter), balance, imageMode, maxRows: req.maxRows });
      if (!bundle) {
        for await (const item of items) {
          ctx.throwIfAborted();
          yield 'row' in item ? { item: { $case: 'row', row: JSON.stringify(item.row) } } : { item: { $case: 'summary', summary: item.summary } };
        }
        return;
      }
      // The bundle is built here, next to the data: callers (the gateway's HTTP route) relay bytes.
      async function* asBundleItems(): AsyncIterable<BundleItem> {
        for await (const item of items) yield 'row' in item ? { row: JSON.stringify(item.row) } : { summary: item.summary };
      }
      const chunks = tarBundleChunks(format, asBundleItems());
      for (let r = await chunks.next(); ; r = await chunks.next()) {
        ctx.throwIfAborted();
        if (r.done) {
          yield { item: { $case: 'summary', summary: r.value as ExportSummary } };
          return;
        }
        yield { item: { $case: 'bundleChunk', bundleChunk: Buffer.from(r.value) } };
      }
    },

    async reviewQueue(req: feedbackV1.ReviewQueueRequest, ctx: CallContext) {
      const reasons = req.reasons.map((r) => REASON_IN[r]).filter((r) => r !== undefined);
      const { items, nextPageToken } = await core.reviewQueue(ctx.tenant, { reasons, models: req.models, pageSize: req.pageSize || 20, pageToken: req.pageToken });
      return {
        items: items.map((i) => ({ response: responseOut(i.response), reasons: i.reasons.map((r) => REASON_OUT[r]), priority: i.priority, feedbackCount: i.feedbackCount })),
        nextPageToken,
      };
    },

    async eraseTenant(req: feedbackV1.EraseTenantRequest, ctx: CallContext) {
      const r = await core.eraseTenant(ctx.tenant, req.tenant, req.confirm);
      return { responsesDeleted: r.responses, feedbackDeleted: r.feedback, imagesDeleted: r.images };
    },
  };
}
