/**
 * @tessera/config — environment → one frozen, typed config object per service.
 *
 *   const schema = { ...commonServiceConfig({ serviceName: 'slicer', grpcPort: 50052 }),
 *                    maxSlices: int({ env: 'TESSERA_MAX_SLICES', default: 9, min: 1, max: 64 }) };
 *   export const config = loadConfig(schema);   // throws ConfigError naming every bad variable
 */
export { int, number, bool, string, oneOf, url, urlList, duration, bytes, type Field } from './fields.js';
export { loadConfig, describeConfig, ConfigError, type ConfigIssue, type Schema, type ConfigOf } from './schema.js';
export { commonServiceConfig, encoderCacheConfig, imageStoreConfig, type CommonDefaults } from './common.js';
export { parseBytes, parseDuration, parseBool, formatBytes, formatDuration } from './parse.js';
