/**
 * `tessera feedback export` — a training-data bundle from the feedback service over NATS:
 *   tessera feedback export FORMAT --out DIR|FILE.tar [--tenant T] [--nats URL] [--source human|ai]
 *                           [--include-ai] [--criteria KEY]... [--category PATH]... [--max-rows N]
 * FORMAT: trl-dpo, kto, sft, rlaif-v (parquet), openai-sft, openai-dpo (text-only), spans-sidecar.
 * The bundle holds data.jsonl (data.parquet for rlaif-v), images/<sha256>.<ext> and summary.json
 * (services/feedback/README.md "Export bundles"). Rows whose image is gone are skipped and named.
 */
import { parseArgs } from 'node:util';
import { feedbackV1 } from '@tessera/contracts';
import { EXPORT_FORMATS, sinkFor, writeBundle, type BundleItem, type ExportFormat } from '@tessera/feedback';
import { connectNats, invalidArgument, natsAuthFromEnv, natsClient, type NatsAuthConfig } from '@tessera/runtime';

export const summary = 'export feedback as a training bundle (TRL, RLAIF-V parquet, OpenAI) with its images';

const USAGE = `usage:
  tessera feedback export FORMAT --out DIR|FILE.tar [--tenant T] [--nats URL] [--source human|ai] [--include-ai] [--criteria KEY]... [--category PATH]... [--max-rows N]
  FORMAT: ${EXPORT_FORMATS.join(', ')}`;

const WIRE: Record<ExportFormat, feedbackV1.ExportFormat> = {
  'trl-dpo': feedbackV1.ExportFormat.TRL_DPO,
  'openai-dpo': feedbackV1.ExportFormat.OPENAI_DPO,
  'rlaif-v': feedbackV1.ExportFormat.RLAIF_V,
  kto: feedbackV1.ExportFormat.KTO,
  sft: feedbackV1.ExportFormat.SFT,
  'spans-sidecar': feedbackV1.ExportFormat.SPANS_SIDECAR,
  'openai-sft': feedbackV1.ExportFormat.OPENAI_SFT,
};

export interface BundleExportOptions {
  format: ExportFormat;
  out: string;
  tenant: string;
  natsUrl: string;
  /** NATS login; default NATS_USER/NATS_PASSWORD (or another method) from the environment. */
  auth?: Omit<NatsAuthConfig, 'natsUrl' | 'serviceName'>;
  source?: 'human' | 'ai';
  includeAi?: boolean;
  criteria?: string[];
  categories?: string[];
  maxRows?: number;
}

/** Streams an INLINE export into a bundle; returns the export summary. */
export async function exportBundle(o: BundleExportOptions) {
  const nc = await connectNats({ natsUrl: o.natsUrl, serviceName: 'tessera-cli', ...(o.auth ?? natsAuthFromEnv()) }, { maxReconnectAttempts: 0 });
  try {
    const client = natsClient(nc, feedbackV1.FeedbackServiceService);
    const filter = feedbackV1.FeedbackFilter.fromPartial({
      criteria: o.criteria ?? [],
      categories: o.categories ?? [],
      includeAi: o.includeAi ?? false,
      source: o.source === 'human' ? feedbackV1.FeedbackSource.HUMAN : o.source === 'ai' ? feedbackV1.FeedbackSource.AI : feedbackV1.FeedbackSource.UNSPECIFIED,
    });
    const stream = client.export({ format: WIRE[o.format], filter, imageMode: feedbackV1.ImageMode.INLINE, maxRows: o.maxRows ?? 0 }, { tenant: o.tenant, timeoutMs: 600_000 });
    async function* items(): AsyncIterable<BundleItem> {
      for await (const m of stream) {
        if (m.item?.$case === 'row') yield { row: m.item.row };
        else if (m.item?.$case === 'summary') yield { summary: m.item.summary };
      }
    }
    return await writeBundle(o.format, items(), sinkFor(o.out));
  } finally {
    await nc.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      tenant: { type: 'string', default: 'default' },
      nats: { type: 'string', default: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
      source: { type: 'string' },
      'include-ai': { type: 'boolean', default: false },
      criteria: { type: 'string', multiple: true },
      category: { type: 'string', multiple: true },
      'max-rows': { type: 'string' },
    },
  });
  const [verb, format] = positionals;
  if (verb !== 'export' || !format || !values.out) {
    console.error(USAGE);
    return 2;
  }
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw invalidArgument('format', `format must be one of ${EXPORT_FORMATS.join(', ')}, got "${format}"`);
  if (values.source !== undefined && values.source !== 'human' && values.source !== 'ai') throw invalidArgument('source', `--source must be human or ai, got "${values.source}"`);
  const s = await exportBundle({
    format: format as ExportFormat,
    out: values.out,
    tenant: values.tenant!,
    natsUrl: values.nats!,
    ...(values.source && { source: values.source as 'human' | 'ai' }),
    includeAi: values['include-ai'],
    criteria: values.criteria ?? [],
    categories: values.category ?? [],
    maxRows: values['max-rows'] ? Number(values['max-rows']) : 0,
  });
  console.log(`${values.out}: ${s.rows ?? 0} rows (${s.skipped ?? 0} records skipped: no row in this format)`);
  if (s.imagesDropped) console.warn(`warning: ${s.imagesDropped} images left out (${format} is text-only)`);
  if (s.rowsMissingImages) console.warn(`warning: ${s.rowsMissingImages} rows skipped, their image was erased or expired: ${(s.missingImageRows ?? []).join(', ')}`);
  return 0;
}
