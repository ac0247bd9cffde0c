/**
 * `tessera edge bare-box`: the files it writes are what the box runs. Each env file loads through its
 * service's own config loader (and holds no key that loader ignores), the units point at files that
 * exist, and a real nats-server starts from site.conf with the site's JetStream domain and lets each
 * service log in with its env file's credentials.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseSiteConfig, sitePasswordEnv } from '@tessera/edge';
import { decoderSchema, loadDecoderConfig } from '@tessera/decoder';
import { feedbackConfigSchema, loadFeedbackConfig } from '@tessera/feedback';
import { freePort, startNatsServer } from '@tessera/testing';
import { gatewaySchema, loadGatewayConfig } from '../../../../services/gateway/src/config.js';
import { BARE_BOX_SERVICES, run } from './edge.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const loaders = {
  gateway: { schema: gatewaySchema, load: loadGatewayConfig },
  decoder: { schema: decoderSchema, load: loadDecoderConfig },
  feedback: { schema: feedbackConfigSchema, load: loadFeedbackConfig },
} as const;

const parseEnvFile = (text: string) => Object.fromEntries(text.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

let dir: string;
let out: string;
let hubPort: number;
let leafPassword: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-bare-box-'));
  out = join(dir, 'etc');
  hubPort = await freePort(); // nothing listens: a site starts and serves with its uplink down
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const code = await run(['bare-box', '--site', 'shop-7', '--hub', `nats-leaf://127.0.0.1:${hubPort}`, '--site-model', 'minicpm-v-4_6', '--hub-model', 'minicpm-v-2_6',
    '--out', out, '--etc', out, '--state', join(dir, 'state'), '--repo', REPO, '--model-dir', join(dir, 'model')]);
  expect(code).toBe(0);
  // The printed leaf password (for the hub's leaf user) is the one in site.conf's remote URL.
  const printed = new RegExp(`^the hub's leaf user for this site: ${sitePasswordEnv('shop-7')}=(\\S+)$`, 'm').exec(log.mock.calls.flat().join('\n'));
  log.mockRestore();
  leafPassword = printed![1]!;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tessera edge bare-box', () => {
  it('writes site.conf, site.json, one env file and one unit per service', () => {
    expect(readdirSync(out).sort()).toEqual(['decoder.env', 'feedback.env', 'gateway.env', 'site.conf', 'site.json', 'tessera-decoder.service', 'tessera-feedback.service', 'tessera-gateway.service', 'tessera-nats.service']);
    // passwords inside: owner-only
    for (const f of ['site.conf', 'gateway.env']) expect(statSync(join(out, f)).mode & 0o077).toBe(0);
  });

  it.each(BARE_BOX_SERVICES)('%s.env loads through the service config loader, with no key it ignores', (svc) => {
    const env = parseEnvFile(readFileSync(join(out, `${svc}.env`), 'utf8'));
    const known = new Set(Object.values(loaders[svc].schema).map((f) => f.env));
    expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
    const c = loaders[svc].load(env) as { natsUser?: string; natsUrl: string };
    expect(c.natsUser).toBe(svc);
    expect(c.natsUrl).toBe('nats://127.0.0.1:4222');
  });

  it("gateway's site config is a valid site config with its own domain", () => {
    const c = loadGatewayConfig(parseEnvFile(readFileSync(join(out, 'gateway.env'), 'utf8')));
    const site = parseSiteConfig(JSON.parse(readFileSync(c.siteConfig, 'utf8')));
    expect(site).toMatchObject({ site: 'shop-7', domain: 'shop-7', hubDomain: 'hub' });
    expect(site.models.map((m) => `${m.id}@${m.place}`)).toEqual(['minicpm-v-4_6@site', 'minicpm-v-2_6@hub']);
    expect(c.modelId).toBe('minicpm-v-4_6');
  });

  it('units: services need nats, restart on failure, read existing env files, start through deploy/start.sh', () => {
    const nats = readFileSync(join(out, 'tessera-nats.service'), 'utf8');
    expect(nats).toContain(`-c ${join(out, 'site.conf')}`);
    for (const svc of BARE_BOX_SERVICES) {
      const u = readFileSync(join(out, `tessera-${svc}.service`), 'utf8');
      expect(u).toMatch(/^Requires=tessera-nats\.service$/m);
      expect(u).toMatch(/^After=.*tessera-nats\.service/m);
      expect(u).toMatch(/^Restart=on-failure$/m);
      expect(u).toContain(`Environment=TESSERA_SERVICE=${svc}`);
      const envFile = /^EnvironmentFile=(.+)$/m.exec(u)![1]!;
      expect(envFile).toBe(join(out, `${svc}.env`));
      expect(existsSync(envFile)).toBe(true);
      const exec = /^ExecStart=(.+)$/m.exec(u)![1]!;
      expect(exec).toBe(join(REPO, 'deploy/start.sh'));
      expect(existsSync(exec)).toBe(true);
      expect(existsSync(join(REPO, 'services', svc, 'package.json'))).toBe(true); // start.sh runs services/$TESSERA_SERVICE/dist/main.js
    }
  });

  it('nats-server starts from site.conf: site JetStream domain, each service logs in with its env file', async () => {
    const port = await freePort();
    const server = await startNatsServer({ configFile: join(out, 'site.conf'), port, storeDir: join(dir, 'state', 'nats') });
    try {
      for (const svc of BARE_BOX_SERVICES) {
        const env = parseEnvFile(readFileSync(join(out, `${svc}.env`), 'utf8'));
        const nc = await connect({ servers: `127.0.0.1:${port}`, user: env.NATS_USER, pass: env.NATS_PASSWORD });
        await nc.flush();
        await nc.close();
      }
      await expect(connect({ servers: `127.0.0.1:${port}`, user: 'gateway', pass: 'wrong' })).rejects.toThrow(/auth/i);
      const jsz = (await (await fetch(`http://127.0.0.1:${server.monitorPort}/jsz`)).json()) as { config?: { domain?: string } };
      expect(jsz.config?.domain).toBe('shop-7');
      const varz = (await (await fetch(`http://127.0.0.1:${server.monitorPort}/varz`)).json()) as { leaf?: { remotes?: unknown[] } };
      expect(varz.leaf?.remotes).toHaveLength(1);
      const conf = JSON.parse(readFileSync(join(out, 'site.conf'), 'utf8')) as { leafnodes: { remotes: Array<{ urls: string[] }> } };
      expect(conf.leafnodes.remotes[0]!.urls).toEqual([`nats-leaf://shop-7:${leafPassword}@127.0.0.1:${hubPort}`]);
    } finally {
      await server.stop();
    }
  });
});
