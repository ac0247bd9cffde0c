/** @tessera/feedback: the feedback service (log, projector, stores, exports, review queue). */
export { feedbackService } from './service.js';
export { FeedbackCore, type CoreOptions, type FilterInput } from './domain/feedback-core.js';
export { composeFeedback, openFeedback, openStore, type FeedbackSettings, type FeedbackStack, type StoreSettings } from './compose.js';
export { loadFeedbackConfig, feedbackSettings, schema as feedbackConfigSchema, type FeedbackConfig } from './config.js';
export { EXPORT_FORMATS, type ExportFormat } from './domain/export/formats.js';
export { EXPORT_SCHEMAS, validateRow } from './domain/export/schemas.js';
export { TextOffsets } from './domain/offsets.js';
export { DEFAULT_CATEGORIES, Taxonomy } from './domain/taxonomy.js';
export { writeBundle, readBundle, directorySink, tarSink, sinkFor, type BundleItem, type BundleSink, type ReadBundle } from './domain/export/bundle.js';
export type { ExportSummary } from './domain/export/exporter.js';
export { feedbackStreamConfig } from './adapters/log/feedback-log.js';
