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
import { hubServiceUsers, parseSiteConfig, siteLeafPermissions, sitePasswordEnv } from '@tessera/edge';
import { BUS_USERS, passwordEnv, renderNatsAuthorization } from '@tessera/runtime';
import { natsServerBinary } from '@tessera/testing';
import { EDGE_HUB_JSON, edgeHubJson } from '../../../scripts/gen-nats-edge.js';
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

  it('hub role: the gateway serves the uplink queue, feedback sources the sites', async () => {
    const objs = await render(['--set', 'edge.role=hub', '--set', 'edge.sites={shop-12,shop-13=eu-shop-13}']);
    expect(env(find(objs, 'Deployment', 'r-tessera-gateway'))).toMatchObject({ TESSERA_GATEWAY_SITE_UPLINK: 'true' });
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

  it('refuses a site role without a site config, and an unknown role', async () => {
    await expect(render(['--set', 'edge.role=site'])).rejects.toThrow(/edge.site \(site, hubDomain, models\) is required/);
    await expect(render(['--set', 'edge.role=cloud'])).rejects.toThrow(/values don't meet the specifications of the schema/);
  });
});
