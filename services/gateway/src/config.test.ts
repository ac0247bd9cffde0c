/**
 * Gateway configuration: frames per resampler call for video (TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL) is
 * configuration with the resampler's default slices-per-request (37); a bad value is refused at start,
 * naming the variable and its limit, and so is a value above the resampler's TESSERA_MAX_SLICES_PER_REQUEST.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@tessera/config';
import { schema as resamplerSchema } from '../../resampler/src/config.js';
import { loadGatewayConfig } from './config.js';

const required = { TESSERA_MODEL_DIR: '/models/m', TESSERA_GATEWAY_API_KEYS_FILE: '/keys.json' };

describe('gateway config: video frames per resampler call', () => {
  it('defaults to the resampler default slices per request (37)', () => {
    const c = loadGatewayConfig(required);
    expect(c.videoFramesPerCall).toBe(37);
    expect(c.videoFramesPerCall).toBe(resamplerSchema.maxSlices.resolve(undefined));
  });

  it('an override is read', () => {
    expect(loadGatewayConfig({ ...required, TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL: '12' }).videoFramesPerCall).toBe(12);
  });

  it.each(['0', '-3', 'abc', '66'])('%s is refused, naming the variable and the limit', (bad) => {
    let err: unknown;
    try {
      loadGatewayConfig({ ...required, TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL: bad });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([expect.objectContaining({ env: 'TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL' })]);
    expect((err as ConfigError).message).toMatch(/TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL .*1\.\.65/);
  });
});

describe('gateway config: video frames per call against the resampler limit', () => {
  const refusal = (env: Record<string, string>): ConfigError => {
    try {
      loadGatewayConfig({ ...required, ...env });
    } catch (e) {
      if (e instanceof ConfigError) return e;
      throw e;
    }
    throw new Error('expected a ConfigError');
  };

  it("reads the resampler's TESSERA_MAX_SLICES_PER_REQUEST with the resampler's default", () => {
    expect(loadGatewayConfig(required).resamplerMaxSlices).toBe(resamplerSchema.maxSlices.resolve(undefined));
    expect(loadGatewayConfig({ ...required, TESSERA_MAX_SLICES_PER_REQUEST: '10', TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL: '10' }).videoFramesPerCall).toBe(10);
  });

  it('a resampler limit below the default frames per call (37 > 10) is refused at start, naming both variables', () => {
    const err = refusal({ TESSERA_MAX_SLICES_PER_REQUEST: '10' });
    expect(err.issues).toEqual([expect.objectContaining({ env: 'TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL' })]);
    expect(err.message).toMatch(/TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL \(37\) must not exceed the resampler's TESSERA_MAX_SLICES_PER_REQUEST \(10\)/);
  });

  it('frames per call raised above the resampler default (50 > 37) is refused unless the resampler limit is raised too', () => {
    expect(refusal({ TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL: '50' }).message).toMatch(/\(50\) must not exceed .*TESSERA_MAX_SLICES_PER_REQUEST \(37\)/);
    expect(loadGatewayConfig({ ...required, TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL: '50', TESSERA_MAX_SLICES_PER_REQUEST: '50' }).videoFramesPerCall).toBe(50);
  });
});
