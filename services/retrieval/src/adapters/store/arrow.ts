/**
 * apache-arrow loaded through `require`, the same module instance @lancedb/lancedb (CommonJS)
 * uses: its `instanceof arrow.Field` checks fail on objects from the ESM build (dual-package
 * hazard; addColumns then reports "Missing field valueSql").
 */
import { createRequire } from 'node:module';

type Arrow = typeof import('apache-arrow');
export const arrow: Arrow = createRequire(import.meta.url)('apache-arrow') as Arrow;
export type { DataType, Field } from 'apache-arrow';
