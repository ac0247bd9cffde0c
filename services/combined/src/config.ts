/**
 * Combined configuration: which stages this process runs, its one /metrics port and its trace
 * settings, and each stage's own configuration, read through that stage's environment
 * (stage-env.ts) by the stage's own schema, all validated before anything loads.
 */
import { commonServiceConfig, ConfigError, int, loadConfig, string, type ConfigIssue, type ConfigOf } from '@tessera/config';
import { loadDecoderConfig, type DecoderConfig } from '@tessera/decoder';
import { loadResamplerConfig, type ResamplerConfig } from '@tessera/resampler';
import { loadSlicerConfig, type SlicerConfig } from '@tessera/slicer';
import { STAGE_NAMES, stageEnv, stageVariable, type Env, type StageName } from './stage-env.js';

const common = commonServiceConfig({ serviceName: 'combined', grpcPort: 50057 });
const STAGE_LIST = new RegExp(`^(${STAGE_NAMES.join('|')})(,(${STAGE_NAMES.join('|')}))*$`);

export const schema = {
  serviceName: string({ env: 'OTEL_SERVICE_NAME', default: 'combined', minLength: 1, doc: 'service name of the process in traces (each stage keeps its own name as its NATS queue group and in logs)' }),
  stages: string({ env: 'TESSERA_STAGES', default: STAGE_NAMES.join(','), pattern: STAGE_LIST, doc: `stages this process runs, comma-separated, each once (${STAGE_NAMES.join(', ')}); a model without a resampler (4.6) leaves it out` }),
  metricsPort: int({ env: 'TESSERA_METRICS_PORT', default: 9471, min: 0, max: 65535, doc: "the process's one Prometheus /metrics port: every stage's series (0 = pick a free one)" }),
  otlpEndpoint: common.otlpEndpoint,
  traceSampleRatio: common.traceSampleRatio,
  logLevel: common.logLevel,
};

export interface StageConfigs {
  slicer?: SlicerConfig;
  resampler?: ResamplerConfig;
  decoder?: DecoderConfig;
}

export type CombinedConfig = Omit<ConfigOf<typeof schema>, 'stages'> & {
  /** In start order (as listed). */
  readonly stages: readonly StageName[];
  readonly stageConfigs: Readonly<StageConfigs>;
};

const LOADERS: { [S in StageName]: (env: Env) => NonNullable<StageConfigs[S]> } = {
  slicer: loadSlicerConfig,
  resampler: loadResamplerConfig,
  decoder: loadDecoderConfig,
};

/** Every problem of every stage in one ConfigError, each naming the variable the operator sets. */
export function loadCombinedConfig(env: Env = process.env): CombinedConfig {
  const own = loadConfig(schema, env);
  const stages = own.stages.split(',') as StageName[];
  const issues: ConfigIssue[] = [];
  if (new Set(stages).size !== stages.length) issues.push({ env: 'TESSERA_STAGES', message: `lists a stage twice (${own.stages})` });
  const stageConfigs: StageConfigs = {};
  for (const stage of stages) {
    try {
      (stageConfigs as Record<StageName, unknown>)[stage] = LOADERS[stage](stageEnv(stage, env));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues.push(...err.issues.map((i) => ({ env: stageVariable(stage, i.env, env), message: i.message })));
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return Object.freeze({ ...own, stages, stageConfigs: Object.freeze(stageConfigs) });
}
