import { ConfigError } from '@tessera/config';
import { describe, expect, it } from 'vitest';
import { loadCombinedConfig } from './config.js';
import { stageEnv } from './stage-env.js';

describe('stage environments', () => {
  const env = {
    NATS_URL: 'nats://nats:4222',
    TESSERA_MODEL_DIR: '/models/current',
    TESSERA_MAX_BATCH: '16',
    OTEL_SERVICE_NAME: 'combined',
    TESSERA_GRPC_PORT: '50057',
    TESSERA_METRICS_PORT: '9471',
    NATS_INBOX_PREFIX: '_INBOX.combined',
    SLICER__TESSERA_MAX_BATCH: '4',
    SLICER__NATS_USER: 'slicer',
    DECODER__TESSERA_GRPC_PORT: '6000',
  };

  it('shares the common variables, applies the stage prefix, and never inherits the process identity', () => {
    expect(stageEnv('slicer', env)).toEqual({ NATS_URL: 'nats://nats:4222', TESSERA_MODEL_DIR: '/models/current', TESSERA_MAX_BATCH: '4', NATS_USER: 'slicer' });
    // Another stage's prefix does not leak; the shared TESSERA_MAX_BATCH stays.
    expect(stageEnv('resampler', env)).toEqual({ NATS_URL: 'nats://nats:4222', TESSERA_MODEL_DIR: '/models/current', TESSERA_MAX_BATCH: '16' });
    expect(stageEnv('decoder', env)).toMatchObject({ TESSERA_GRPC_PORT: '6000' });
  });

  it('each stage gets its own queue group and its service default ports, whatever the process is called', () => {
    const c = loadCombinedConfig(env);
    expect(c.serviceName).toBe('combined');
    expect(c.metricsPort).toBe(9471);
    expect(c.stages).toEqual(['slicer', 'resampler', 'decoder']);
    expect(c.stageConfigs.slicer).toMatchObject({ serviceName: 'slicer', grpcPort: 50052, maxBatch: 4, natsUser: 'slicer' });
    expect(c.stageConfigs.resampler).toMatchObject({ serviceName: 'resampler', grpcPort: 50053, maxBatch: 16 });
    expect(c.stageConfigs.decoder).toMatchObject({ serviceName: 'decoder', grpcPort: 6000 });
  });

  it('runs a chosen subset in the given order', () => {
    const c = loadCombinedConfig({ TESSERA_STAGES: 'decoder,slicer' });
    expect(c.stages).toEqual(['decoder', 'slicer']);
    expect(Object.keys(c.stageConfigs).sort()).toEqual(['decoder', 'slicer']);
  });
});

describe('bad configuration', () => {
  const issues = (env: Record<string, string>) => {
    try {
      loadCombinedConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).issues.map((i) => i.env);
    }
    throw new Error('no ConfigError');
  };

  it('refuses an unknown or repeated stage', () => {
    expect(issues({ TESSERA_STAGES: 'slicer,gateway' })).toEqual(['TESSERA_STAGES']);
    expect(issues({ TESSERA_STAGES: 'slicer,slicer' })).toEqual(['TESSERA_STAGES']);
  });

  it('names the variable the operator set, prefixed or shared, for every stage at once', () => {
    expect(issues({ SLICER__TESSERA_MAX_BATCH: '0', TESSERA_INTRA_OP_THREADS: 'many' }).sort()).toEqual([
      'SLICER__TESSERA_MAX_BATCH',
      'TESSERA_INTRA_OP_THREADS (stage decoder)',
      'TESSERA_INTRA_OP_THREADS (stage resampler)',
      'TESSERA_INTRA_OP_THREADS (stage slicer)',
    ]);
  });
});
