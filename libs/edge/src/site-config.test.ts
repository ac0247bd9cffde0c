import { describe, expect, it } from 'vitest';
import { parseSiteConfig } from './site-config.js';

const ok = {
  site: 'shop-12',
  hubDomain: 'hub',
  models: [
    { id: 'edge-small', place: 'site' },
    { id: 'big', place: 'hub', fallback: 'serve-local-model-edge-small' },
    { id: 'big-strict', place: 'hub', fallback: 'fail' },
  ],
};

describe('site config', () => {
  it('parses models, places, fallbacks and defaults', () => {
    const c = parseSiteConfig(ok);
    expect(c.domain).toBe('shop-12');
    expect(c.models.map((m) => [m.id, m.place, m.fallback])).toEqual([
      ['edge-small', 'site', { kind: 'fail' }],
      ['big', 'hub', { kind: 'local', model: 'edge-small' }],
      ['big-strict', 'hub', { kind: 'fail' }],
    ]);
    expect(c.probeIntervalMs).toBe(500);
    expect(Object.isFrozen(c.models[0])).toBe(true);
  });

  it("refuses a site with the hub's domain, naming the field", () => {
    expect(() => parseSiteConfig({ ...ok, domain: 'hub' })).toThrow(/site config: domain: .*"hub" is the hub's domain/);
    try {
      parseSiteConfig({ ...ok, site: 'hub' });
    } catch (err) {
      expect((err as { details?: { field?: string } }).details?.field).toBe('domain');
    }
  });

  it('names the field of a bad fallback, place, duplicate or limit', () => {
    const m = (models: unknown[]) => () => parseSiteConfig({ ...ok, models });
    expect(m([{ id: 'a', place: 'hub', fallback: 'serve-local-model-zzz' }])).toThrow(/models\[0\]\.fallback: .*names no model served at this site/);
    expect(m([{ id: 'a', place: 'hub', fallback: 'retry' }])).toThrow(/models\[0\]\.fallback: expected "fail" or "serve-local-model-<model id>"/);
    expect(m([{ id: 'a', place: 'cloud' }])).toThrow(/models\[0\]\.place: expected "site" or "hub"/);
    expect(m([{ id: 'a', place: 'site' }, { id: 'a', place: 'hub' }])).toThrow(/models\[1\]\.id: model "a" is listed twice/);
    expect(m([])).toThrow(/models: expected a non-empty list/);
    expect(m([{ id: 'a', place: 'hub', family: 4.6 }])).toThrow(/models\[0\]\.family: expected a model family/);
    expect(m([{ id: 'a', place: 'site', family: '4.6' }])).toThrow(/models\[0\]\.family: a site model is this gateway's own/);
    expect(m([{ id: 'a', place: 'hub', family: '4.6' }])().models[0]).toEqual({ id: 'a', place: 'hub', fallback: { kind: 'fail' }, family: '4.6' });
    expect(() => parseSiteConfig({ ...ok, probeIntervalMs: 0 })).toThrow(/probeIntervalMs: expected an integer from 1/);
    expect(() => parseSiteConfig({ ...ok, site: 'a.b' })).toThrow(/site: expected a name/);
    expect(() => parseSiteConfig({ ...ok, hubDomian: 'x' })).toThrow(/hubDomian: unknown field/);
  });

  it('routes a hub model through the hub gateway unless it says "stages" with the model card at the site', () => {
    const m = (models: unknown[]) => () => parseSiteConfig({ ...ok, models });
    expect(m([{ id: 'a', place: 'hub' }])().models[0]!.route).toBeUndefined();
    expect(m([{ id: 'a', place: 'hub', route: 'gateway' }])().models[0]!.route).toEqual({ kind: 'gateway' });
    expect(m([{ id: 'a', place: 'hub', route: 'stages', modelDir: '/cards/a' }])().models[0]!.route).toEqual({ kind: 'stages', modelDir: '/cards/a' });
    expect(m([{ id: 'a', place: 'hub', route: 'stages' }])).toThrow(/models\[0\]\.modelDir: route "stages" needs the hub model's card at the site/);
    expect(m([{ id: 'a', place: 'hub', modelDir: '/cards/a' }])).toThrow(/models\[0\]\.modelDir: only a hub model with route "stages"/);
    expect(m([{ id: 'a', place: 'hub', route: 'direct' }])).toThrow(/models\[0\]\.route: expected "gateway" or "stages", got "direct"/);
    expect(m([{ id: 'a', place: 'site', route: 'stages', modelDir: '/x' }])).toThrow(/models\[0\]\.route: a site model is served by this gateway/);
    // A misspelt key would silently keep the gateway route: refused, naming it.
    expect(m([{ id: 'a', place: 'hub', route: 'stages', modeldir: '/cards/a' }])).toThrow(/models\[0\]\.modeldir: unknown field/);
  });
});
