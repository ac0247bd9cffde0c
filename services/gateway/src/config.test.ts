/**
 * Gateway configuration: frames per resampler call for video (TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL) is
 * configuration with the resampler's default slices-per-request (37); a bad value is refused at start,
 * naming the variable and its limit.
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
