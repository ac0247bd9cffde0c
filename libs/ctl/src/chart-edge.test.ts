/**
 * helm/tessera edge profiles (issue 18), rendered by the real helm: the site profile (ci/site.yaml)
 * mounts a site config the gateway accepts and limits the site's feedback stream; the hub role
 * turns on the uplink queue and sources the listed sites' feedback.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { hubServiceUsers, parseSiteConfig, siteInboxPrefix, siteLeafPermissions, sitePasswordEnv, siteServiceUsers } from '@tessera/edge';
import { makeTestCerts, startHub, waitForLeafs } from '@tessera/edge/testing';
import { BUS_USERS, passwordEnv, renderNatsAuthorization } from '@tessera/runtime';
import { freePort, natsServerBinary, startNatsServer } from '@tessera/testing';
import { EDGE_HUB_JSON, EDGE_SITE_JSON, edgeHubJson, edgeSiteJson } from '../../../scripts/gen-nats-edge.js';
import { REPO_ROOT } from './helm-render.js';
import { CHART_DIR, helm, parseManifests, type K8sObject } from './helm-render.js';
import { validateManifest } from './manifest-validation.js';

async function render(args: string[]): Promise<K8sObject[]> {
  const r = await helm(['template', 'r', CHART_DIR, '-n', 'tessera', '--set', 'externalNats.url=nats://nats:4222', '--set', 'externalNats.monitoringEndpoint=nats:8222', ...args]);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  const objects = parseManifests(r.stdout);
  for (const o of objects) validateManifest(o);
  return objects;
}
const find = (objs: K8sObject[], kind: string, name: string): any => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind} ${name} not rendered`);
  return o;
};
const env = (d: any): Record<string, string> => Object.fromEntries((d.spec.template.spec.containers[0].env ?? []).filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]));

describe('helm template: edge site profile (ci/site.yaml)', () => {
  it('mounts a site config the gateway accepts; the feedback stream keeps a bounded backlog', async () => {
    const objs = await render(['-f', join(CHART_DIR, 'ci', 'site.yaml')]);
    const site = parseSiteConfig(JSON.parse(find(objs, 'ConfigMap', 'r-tessera-site').data['site.json']));
    expect(site).toMatchObject({ site: 'shop-12', domain: 'shop-12', hubDomain: 'hub' });
    expect(site.models.map((m) => m.place)).toEqual(['site', 'hub']);
    const gw = find(objs, 'Deployment', 'r-tessera-gateway');
    expect(env(gw)).toMatchObject({ TESSERA_SITE_CONFIG: '/etc/tessera/site/site.json', TESSERA_GATEWAY_MODEL_ID: 'minicpm-v-2_6-site' });
    expect(gw.spec.template.spec.volumes.find((v: any) => v.name === 'site-config').configMap.name).toBe('r-tessera-site');
    expect(env(find(objs, 'Deployment', 'r-tessera-feedback'))).toMatchObject({ TESSERA_FEEDBACK_STREAM_MAX_EVENTS: '1000000', TESSERA_FEEDBACK_STREAM_MAX_BYTES: '1073741824' });
    expect(objs.some((o) => o.metadata.name === 'r-tessera-retrieval')).toBe(false);
  });

  it('hub role: the gateway serves the uplink queue, the decoder its site subjects, feedback sources the sites', async () => {
    const objs = await render(['--set', 'edge.role=hub', '--set', 'edge.sites={shop-12,shop-13=eu-shop-13}']);
    expect(env(find(objs, 'Deployment', 'r-tessera-gateway'))).toMatchObject({ TESSERA_GATEWAY_SITE_UPLINK: 'true' });
    expect(env(find(objs, 'Deployment', 'r-tessera-decoder'))).toMatchObject({ TESSERA_DECODER_SITE_ACCESS: 'true' });
    expect(env(find(await render([]), 'Deployment', 'r-tessera-decoder')).TESSERA_DECODER_SITE_ACCESS).toBeUndefined();
    expect(env(find(objs, 'Deployment', 'r-tessera-feedback'))).toMatchObject({ TESSERA_FEEDBACK_SITES: 'shop-12,shop-13=eu-shop-13' });
    expect(objs.some((o) => o.kind === 'ConfigMap' && o.metadata.name === 'r-tessera-site')).toBe(false);
  });

  it("hub role with authConfigMap: renders the hub's users (edge grants, one leaf user per site) exactly as libs/edge defines them, and the leafnode listener; nats-server accepts both", async () => {
    expect(readFileSync(join(REPO_ROOT, EDGE_HUB_JSON), 'utf8'), 'run: node --import tsx scripts/gen-nats-edge.ts').toBe(edgeHubJson());
    const sites = [
      { site: 'shop-12', domain: 'shop-12' },
      { site: 'shop-13', domain: 'eu-shop-13' },
    ];
    const objs = await render(['--set', 'edge.role=hub', '--set', 'edge.sites={shop-12,shop-13=eu-shop-13}', '--set', 'externalNats.authConfigMap=true', '--set', 'edge.leafnodes.advertise=leaf.example.com:7422', '--set', 'edge.leafnodes.tlsDir=/etc/nats-leaf-tls']);
    const data = find(objs, 'ConfigMap', 'r-tessera-nats-auth').data;
    // The source of truth: what the e2e and the local stack run with (hubServiceUsers) plus the site leaf users.
    const services = hubServiceUsers(sites.map((s) => s.site), Object.fromEntries(BUS_USERS.map((u) => [u, ''])) as Record<(typeof BUS_USERS)[number], string>);
    const expected = renderNatsAuthorization([
      ...services.map((u) => ({ user: u.user, password: { env: passwordEnv(u.user) }, permissions: { publish: u.permissions!.publish.allow, subscribe: u.permissions!.subscribe.allow } })),
      ...sites.map((s) => {
        const p = siteLeafPermissions(s.site, s.domain, 'hub');
        return { user: s.site, password: { env: sitePasswordEnv(s.site) }, permissions: { publish: p.publish.allow, subscribe: p.subscribe.allow } };
      }),
    ]);
    const auth: string = data['auth.conf'];
    expect(auth.slice(auth.indexOf('authorization {'))).toBe(expected);
    expect(data['leafnodes.conf']).toMatch(/port: 7422\n\s*advertise: "leaf.example.com:7422"[\s\S]*cert_file: "\/etc\/nats-leaf-tls\/tls.crt"/);

    const dir = mkdtempSync(join(tmpdir(), 'tessera-hub-auth-'));
    try {
      writeFileSync(join(dir, 'auth.conf'), auth);
      writeFileSync(join(dir, 'leafnodes.conf'), data['leafnodes.conf'].replace(/\n  tls \{[\s\S]*?\n  \}/, '')); // no certificate files here
      writeFileSync(join(dir, 'hub.conf'), `jetstream { domain: hub, store_dir: "${dir}/js" }\ninclude auth.conf\ninclude leafnodes.conf\n`);
      const env = { ...process.env, ...Object.fromEntries([...BUS_USERS.map((u) => passwordEnv(u)), ...sites.map((s) => sitePasswordEnv(s.site))].map((k) => [k, 'pw'])) };
      const r = await new Promise<{ code: number; out: string }>((resolve) => execFile(natsServerBinary(), ['-t', '-c', join(dir, 'hub.conf')], { env }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr })));
      expect(r.code, r.out).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("site role with authConfigMap: renders the site's users exactly as libs/edge defines them and a leaf remote a real site nats-server connects to the hub with, over TLS", async () => {
    expect(readFileSync(join(REPO_ROOT, EDGE_SITE_JSON), 'utf8'), 'run: node --import tsx scripts/gen-nats-edge.ts').toBe(edgeSiteJson());
    const objs = await render(['-f', join(CHART_DIR, 'ci', 'site.yaml'), '--set', 'externalNats.authConfigMap=true', '--set', 'edge.uplink.caFile=/etc/nats-hub-ca/ca.crt']);
    const data = find(objs, 'ConfigMap', 'r-tessera-nats-auth').data;
    const users = siteServiceUsers('shop-12', 'hub', Object.fromEntries(BUS_USERS.map((u) => [u, ''])) as Record<(typeof BUS_USERS)[number], string>);
    const auth: string = data['auth.conf'];
    expect(auth.slice(auth.indexOf('authorization {'))).toBe(renderNatsAuthorization(users.map((u) => ({ user: u.user, password: { env: passwordEnv(u.user) }, permissions: { publish: u.permissions!.publish.allow, subscribe: u.permissions!.subscribe.allow } }))));
    expect(data['leafnodes.conf']).toMatch(/urls: \[ \$TESSERA_NATS_UPLINK_URL \][\s\S]*ca_file: "\/etc\/nats-hub-ca\/ca.crt"/);

    // The rendered files as they are (only the CA path swapped for a test CA's), in a real site server.
    const certs = makeTestCerts();
    const hub = await startHub({ sites: [{ site: 'shop-12', domain: 'shop-12', password: 'leaf-pw' }], tls: certs });
    const dir = mkdtempSync(join(tmpdir(), 'tessera-site-auth-'));
    const saved = { ...process.env };
    let site: Awaited<ReturnType<typeof startNatsServer>> | undefined;
    try {
      writeFileSync(join(dir, 'auth.conf'), auth);
      writeFileSync(join(dir, 'leafnodes.conf'), data['leafnodes.conf'].replace('/etc/nats-hub-ca/ca.crt', certs.caFile));
      writeFileSync(join(dir, 'site.conf'), `jetstream { domain: shop-12, store_dir: "${dir}/js" }\ninclude auth.conf\ninclude leafnodes.conf\n`);
      // nats-server reads the passwords and the uplink URL from its environment (a Secret in the pod).
      for (const u of BUS_USERS) process.env[passwordEnv(u)] = `${u}-pw`;
      process.env.TESSERA_NATS_UPLINK_URL = hub.leafUrl.replace('nats-leaf://', 'nats-leaf://shop-12:leaf-pw@');
      site = await startNatsServer({ port: await freePort(), storeDir: dir, configFile: join(dir, 'site.conf') });
      await waitForLeafs(hub.nats.monitorPort, 1);
      // The site gateway's login reaches the hub's JetStream API over the link (its grants and the leaf user's).
      const gw = await connect({ servers: site.url, user: 'gateway', pass: 'gateway-pw', inboxPrefix: siteInboxPrefix('shop-12') });
      try {
        expect((await (await gw.jetstreamManager({ domain: 'hub' })).getAccountInfo()).domain).toBe('hub');
      } finally {
        await gw.close();
      }
    } finally {
      process.env = saved;
      await site?.stop();
      await hub.stop();
      rmSync(dir, { recursive: true, force: true });
      rmSync(certs.dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses a site role without a site config, and an unknown role', async () => {
    await expect(render(['--set', 'edge.role=site'])).rejects.toThrow(/edge.site \(site, hubDomain, models\) is required/);
    await expect(render(['--set', 'edge.role=cloud'])).rejects.toThrow(/values don't meet the specifications of the schema/);
  });
});
