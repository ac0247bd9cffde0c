import { describe, expect, it } from 'vitest';
import { ConfigError, bool, bytes, commonServiceConfig, describeConfig, duration, int, loadConfig, number, oneOf, string, url, urlList } from './index.js';

const schema = {
  port: int({ env: 'PORT', default: 8080, min: 1, max: 65535 }),
  ratio: number({ env: 'RATIO', default: 0.5, min: 0, max: 1 }),
  verbose: bool({ env: 'VERBOSE', default: false }),
  name: string({ env: 'NAME' }),
  mode: oneOf(['cpu', 'cuda'], { env: 'MODE', default: 'cpu' }),
  endpoint: url({ env: 'ENDPOINT', optional: true, protocols: ['http', 'https'] }),
  seeds: urlList({ env: 'SEEDS', default: ['nats://127.0.0.1:4222'], protocols: ['nats'] }),
  timeout: duration({ env: 'TIMEOUT', default: 30_000, min: 100, max: 600_000 }),
  limit: bytes({ env: 'LIMIT', default: 512 * 1024, max: 1024 * 1024 }),
};

describe('loadConfig', () => {
  it('applies defaults, parses every kind, and freezes the result', () => {
    const c = loadConfig(schema, { NAME: 'x', TIMEOUT: '1.5m', LIMIT: '256KiB', VERBOSE: 'yes', MODE: 'cuda', SEEDS: 'nats://a:1, nats://b:2', ENDPOINT: 'http://otel:4318' });
    expect(c).toEqual({ port: 8080, ratio: 0.5, verbose: true, name: 'x', mode: 'cuda', endpoint: 'http://otel:4318', seeds: ['nats://a:1', 'nats://b:2'], timeout: 90_000, limit: 262_144 });
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow();
  });

  it('treats an empty variable as unset and leaves optional fields undefined', () => {
    const c = loadConfig(schema, { NAME: 'x', PORT: '' });
    expect(c.port).toBe(8080);
    expect(c.endpoint).toBeUndefined();
  });

  it('reports every bad variable with its name and the allowed range', () => {
    let err: unknown;
    try {
      loadConfig(schema, { PORT: '70000', RATIO: 'abc', MODE: 'tpu', TIMEOUT: '5', LIMIT: '2MiB', ENDPOINT: 'ftp://x', VERBOSE: 'maybe' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const issues = Object.fromEntries((err as ConfigError).issues.map((i) => [i.env, i.message]));
    expect(Object.keys(issues).sort()).toEqual(['ENDPOINT', 'LIMIT', 'MODE', 'NAME', 'PORT', 'RATIO', 'TIMEOUT', 'VERBOSE']);
    expect(issues.PORT).toContain('1..65535');
    expect(issues.NAME).toContain('required');
    expect(issues.MODE).toContain('cpu, cuda');
    expect(issues.TIMEOUT).toContain('100ms..10m');
    expect(issues.LIMIT).toContain('<= 1MiB');
    expect(issues.ENDPOINT).toContain('http, https');
    expect((err as Error).message).toContain('PORT');
  });

  it('rejects non-integers and unknown units', () => {
    expect(() => loadConfig({ n: int({ env: 'N', default: 1 }) }, { N: '1.5' })).toThrow(/N = "1.5" is not an integer/);
    expect(() => loadConfig({ b: bytes({ env: 'B', default: 1 }) }, { B: '5 parsecs' })).toThrow(/B = "5 parsecs" is not a byte size/);
  });

  it('fails at definition time on a default outside its own range', () => {
    expect(() => int({ env: 'X', default: 0, min: 1 })).toThrow(/out of range/);
  });

  it('provides the shared service keys with the documented defaults', () => {
    const c = loadConfig(commonServiceConfig({ serviceName: 'slicer', grpcPort: 50052 }), { TESSERA_CLAIM_CHECK_THRESHOLD: '256KiB' });
    expect(c.natsUrl).toBe('nats://127.0.0.1:4222');
    expect(c.grpcPort).toBe(50052);
    expect(c.metricsPort).toBe(9466);
    expect(c.claimCheckThreshold).toBe(262_144);
    expect(c.serviceName).toBe('slicer');
    expect(describeConfig(commonServiceConfig({ serviceName: 's', grpcPort: 1 }))).toContain('`NATS_URL`');
  });
});
