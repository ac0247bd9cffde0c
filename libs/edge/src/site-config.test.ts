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
});
