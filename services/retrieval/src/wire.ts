/** Wire (ts-proto retrievalV1) ↔ domain conversions, in one place. */
import { commonV1, retrievalV1 } from '@tessera/contracts';
import { ErrorCode, invalidArgument } from '@tessera/runtime';
import type { QueryInput, SearchMode, SplitInput } from './domain/engine/retrieval-engine.js';
import type { IngestionJob } from './domain/ingest/jobs.js';
import type { FusionMethod } from './domain/query/fusion.js';
import type { CollectionInfo, Distance, Metadata, StoredRecord } from './domain/vector-store.js';

const { Distance: D, SearchMode: M, SplitOptions_Strategy: S, IngestionJob_State: J } = retrievalV1;

export function distanceFromWire(d: retrievalV1.Distance): Distance {
  switch (d) {
    case D.UNSPECIFIED:
    case D.COSINE:
      return 'cosine';
    case D.L2:
      return 'l2';
    case D.INNER_PRODUCT:
      return 'ip';
    default:
      throw invalidArgument('distance', `unknown distance ${d}`);
  }
}

export function distanceToWire(d: Distance): retrievalV1.Distance {
  return d === 'l2' ? D.L2 : d === 'ip' ? D.INNER_PRODUCT : D.COSINE;
}

const MODES: Record<number, SearchMode | 'default'> = { [M.UNSPECIFIED]: 'default', [M.DENSE]: 'dense', [M.MMR]: 'mmr', [M.HYBRID]: 'hybrid', [M.LEXICAL]: 'lexical' };
const MODES_OUT: Record<SearchMode, retrievalV1.SearchMode> = { dense: M.DENSE, mmr: M.MMR, hybrid: M.HYBRID, lexical: M.LEXICAL };

/** undefined = the server's default mode. */
export function modeFromWire(m: retrievalV1.SearchMode): SearchMode | undefined {
  const mode = MODES[m];
  if (!mode) throw invalidArgument('mode', `unknown search mode ${m}`);
  return mode === 'default' ? undefined : mode;
}

const FUSIONS: Record<number, FusionMethod | 'default'> = {
  [retrievalV1.FusionMethod.UNSPECIFIED]: 'default',
  [retrievalV1.FusionMethod.RRF]: 'rrf',
  [retrievalV1.FusionMethod.SCORE]: 'score',
  [retrievalV1.FusionMethod.TIEBREAK]: 'tiebreak',
};

function fusionFromWire(f: retrievalV1.FusionMethod): FusionMethod | undefined {
  const m = FUSIONS[f];
  if (!m) throw invalidArgument('hybrid.fusion', `unknown fusion method ${f}`);
  return m === 'default' ? undefined : m;
}

export const modeToWire = (m: SearchMode): retrievalV1.SearchMode => MODES_OUT[m];

export function collectionToWire(c: CollectionInfo): retrievalV1.Collection {
  return {
    name: c.name,
    description: c.description,
    distance: distanceToWire(c.distance),
    embeddingModel: c.embeddingModel,
    dimension: c.dimension,
    metadata: c.metadata,
    recordCount: c.recordCount,
    createdAt: c.createdAt,
  };
}

export function splitFromWire(s: retrievalV1.SplitOptions | undefined): SplitInput | undefined {
  if (!s) return undefined;
  const strategy = s.strategy === S.SENTENCE ? 'sentence' : s.strategy === S.NONE ? 'none' : s.strategy === S.UNSPECIFIED || s.strategy === S.RECURSIVE ? 'recursive' : undefined;
  if (!strategy) throw invalidArgument('split.strategy', `unknown split strategy ${s.strategy}`);
  return {
    strategy,
    ...(s.chunkSize > 0 && { chunkSize: s.chunkSize }),
    ...((s.chunkOverlap > 0 || s.chunkSize > 0) && { chunkOverlap: s.chunkOverlap }),
    ...(s.separators.length > 0 && { separators: s.separators }),
    ...(s.locale && { locale: s.locale }),
  };
}

export function recordToWire(r: StoredRecord): retrievalV1.Record {
  return { id: r.id, text: r.text, metadata: r.metadata, vector: r.vector ? Array.from(r.vector) : [] };
}

export function metadataFromWire(m: { [key: string]: unknown } | undefined): Metadata {
  return (m ?? {}) as Metadata;
}

export function vectorFromWire(v: number[] | undefined): Float32Array | undefined {
  return v && v.length > 0 ? Float32Array.from(v) : undefined;
}

export function queryFromWire(req: retrievalV1.QueryRequest): QueryInput {
  return {
    collection: req.collection,
    ...(req.query?.$case === 'text' && { text: req.query.text }),
    ...(req.query?.$case === 'vector' && { vector: Float32Array.from(req.query.vector.values) }),
    k: req.k || 4,
    where: req.where,
    whereDocument: req.whereDocument,
    ...(req.scoreThreshold !== undefined && { scoreThreshold: req.scoreThreshold }),
    ...(modeFromWire(req.mode) && { mode: modeFromWire(req.mode) }),
    ...(req.mmr && { mmr: { ...(req.mmr.fetchK > 0 && { fetchK: req.mmr.fetchK }), ...(req.mmr.lambda !== undefined && { lambda: req.mmr.lambda }) } }),
    ...(req.hybrid && {
      hybrid: {
        ...(req.hybrid.rrfK > 0 && { rrfK: req.hybrid.rrfK }),
        ...(req.hybrid.denseWeight !== undefined && { denseWeight: req.hybrid.denseWeight }),
        ...(req.hybrid.fetchK > 0 && { fetchK: req.hybrid.fetchK }),
        ...(fusionFromWire(req.hybrid.fusion) && { fusion: fusionFromWire(req.hybrid.fusion) }),
      },
    }),
    includeVectors: req.includeVectors,
  };
}

const JOB_STATE = { pending: J.PENDING, running: J.RUNNING, succeeded: J.SUCCEEDED, failed: J.FAILED } as const;

export function jobToWire(j: IngestionJob): retrievalV1.IngestionJob {
  return {
    id: j.id,
    collection: j.collection,
    state: JOB_STATE[j.state],
    documentsTotal: j.documentsTotal,
    documentsDone: j.documentsDone,
    chunksWritten: j.chunksWritten,
    ...(j.error && {
      error: {
        code: commonV1.ErrorCode[j.error.code as keyof typeof ErrorCode] ?? commonV1.ErrorCode.INTERNAL,
        message: j.error.message,
        field: typeof j.error.details.field === 'string' ? j.error.details.field : '',
        limit: typeof j.error.details.limit === 'string' ? j.error.details.limit : '',
        retryAfterMs: 0,
        metadata: {},
      },
    }),
    createdAt: j.createdAt,
    updatedAt: j.updatedAt,
  };
}
