/**
 * `tessera edge bare-box` — an edge site's files for a box without Kubernetes (docs/edge.md "Bare box"):
 *   tessera edge bare-box --site ID --hub nats-leaf://HUB:7422 --site-model ID --out DIR
 *                         [--hub-model ID]... [--hub-domain hub] [--hub-ca FILE] [--leaf-password P]
 *                         [--etc /etc/tessera] [--state /var/lib/tessera] [--repo /opt/tessera]
 *                         [--model-dir DIR] [--nats-server /usr/local/bin/nats-server]
 * writes into DIR (copy it to --etc; units go to /etc/systemd/system):
 *   site.conf                  nats-server leaf node of the hub, its own JetStream domain, one user per
 *                              service (libs/edge `siteServerConfig` + `siteServiceUsers`, as the chart)
 *   site.json                  the gateway's site config (TESSERA_SITE_CONFIG, checked by `parseSiteConfig`)
 *   <service>.env              gateway, decoder, feedback (the site profile's services): their NATS login
 *   tessera-<unit>.service     systemd units; the services run through deploy/start.sh as the images do
 * Every password is random; the leaf password is the hub's `<site>` leaf user (printed with the hub's variable).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSiteConfig, renderServerConfig, siteServerConfig, sitePasswordEnv, siteServiceUsers } from '@tessera/edge';
import { BUS_USERS, invalidArgument, type BusUser } from '@tessera/runtime';

export const summary = 'edge site files for a bare box: site.conf (leaf nats-server), env files and systemd units';

export const USAGE = `usage:
  tessera edge bare-box --site ID --hub nats-leaf://HOST:7422 --site-model ID --out DIR [--hub-model ID]... [--hub-domain hub] [--hub-ca FILE] [--leaf-password P] [--etc /etc/tessera] [--state /var/lib/tessera] [--repo /opt/tessera] [--model-dir DIR] [--nats-server PATH]`;

/** The services the site profile runs (libs/local-stack edge.ts, helm ci/site.yaml). */
export const BARE_BOX_SERVICES = ['gateway', 'decoder', 'feedback'] as const;
export type BareBoxService = (typeof BARE_BOX_SERVICES)[number];

export interface BareBoxOptions {
  site: string;
  hubUrl: string;
  hubDomain: string;
  siteModel: string;
  hubModels: string[];
  hubCaFile?: string;
  leafPassword: string;
  /** Where the files live on the box (env files, site.conf, site.json). */
  etcDir: string;
  stateDir: string;
  repoDir: string;
  modelDir: string;
  natsServer: string;
  /** Passwords per bus user and the service token; random unless given (tests). */
  passwords?: Record<BusUser, string>;
  serviceToken?: string;
}

const secret = () => randomBytes(18).toString('base64url');
const envFile = (vars: Record<string, string>) => Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join('');

/** File name → contents. Pure: the test renders it and loads each env file through the service's config loader. */
export function bareBoxFiles(o: BareBoxOptions): Record<string, string> {
  const passwords = o.passwords ?? (Object.fromEntries(BUS_USERS.map((u) => [u, secret()])) as Record<BusUser, string>);
  const token = o.serviceToken ?? secret();
  const siteJson = { site: o.site, domain: o.site, hubDomain: o.hubDomain, models: [{ id: o.siteModel, place: 'site' }, ...o.hubModels.map((id) => ({ id, place: 'hub', fallback: `serve-local-model-${o.siteModel}` }))] };
  parseSiteConfig(siteJson); // fails here, naming the field, rather than at the gateway's start on the box
  const conf = siteServerConfig({
    serverName: o.site,
    host: '127.0.0.1',
    port: 4222,
    monitorPort: 8222,
    storeDir: join(o.stateDir, 'nats'),
    domain: o.site,
    users: siteServiceUsers(o.site, o.hubDomain, passwords),
    hub: { url: o.hubUrl, user: o.site, password: o.leafPassword, ...(o.hubCaFile && { caFile: o.hubCaFile }) },
  });
  const common = (svc: BareBoxService) => ({ NATS_URL: 'nats://127.0.0.1:4222', NATS_USER: svc, NATS_PASSWORD: passwords[svc], TESSERA_SERVICE_TOKEN: token });
  const env: Record<BareBoxService, Record<string, string>> = {
    gateway: { ...common('gateway'), TESSERA_MODEL_DIR: o.modelDir, TESSERA_GATEWAY_MODEL_ID: o.siteModel, TESSERA_SITE_CONFIG: join(o.etcDir, 'site.json'), TESSERA_GATEWAY_API_KEYS_FILE: join(o.etcDir, 'api-keys.json') },
    decoder: { ...common('decoder'), TESSERA_MODEL_DIR: o.modelDir },
    // The site profile's bound: beyond it the oldest events go first; the gateway warns, the hub counts them exactly (docs/edge.md).
    feedback: { ...common('feedback'), TESSERA_DATA_DIR: join(o.stateDir, 'feedback'), TESSERA_FEEDBACK_STREAM_MAX_EVENTS: '1000000' },
  };
  const files: Record<string, string> = {
    'site.conf': renderServerConfig(conf),
    'site.json': `${JSON.stringify(siteJson, null, 2)}\n`,
    'tessera-nats.service': unit(`Tessera edge site ${o.site}: NATS leaf node`, [], [`ExecStart=${o.natsServer} -c ${join(o.etcDir, 'site.conf')}`, 'ExecReload=/bin/kill -HUP $MAINPID']),
  };
  for (const svc of BARE_BOX_SERVICES) {
    files[`${svc}.env`] = envFile(env[svc]);
    files[`tessera-${svc}.service`] = unit(`Tessera edge site ${o.site}: ${svc}`, ['tessera-nats.service'], [
      `EnvironmentFile=${join(o.etcDir, `${svc}.env`)}`,
      `Environment=TESSERA_SERVICE=${svc}`,
      `WorkingDirectory=${o.repoDir}`,
      // start.sh is the images' entrypoint: compiled dist/ through the tessera-dist condition, SIGTERM to node.
      `ExecStart=${join(o.repoDir, 'deploy/start.sh')}`,
    ]);
  }
  return files;
}

function unit(description: string, needs: string[], service: string[]): string {
  const after = ['network-online.target', ...needs].join(' ');
  return [
    '[Unit]',
    `Description=${description}`,
    'Wants=network-online.target',
    `After=${after}`,
    ...(needs.length ? [`Requires=${needs.join(' ')}`] : []),
    '',
    '[Service]',
    ...service,
    'Restart=on-failure',
    // The services drain in-flight work for TESSERA_SHUTDOWN_GRACE (25 s) after SIGTERM.
    'TimeoutStopSec=35',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'bare-box') throw invalidArgument('subcommand', `expected "bare-box", got "${sub ?? ''}"`);
  const { values: v } = parseArgs({
    args: rest,
    options: {
      site: { type: 'string' }, hub: { type: 'string' }, out: { type: 'string' }, 'site-model': { type: 'string' },
      'hub-model': { type: 'string', multiple: true, default: [] }, 'hub-domain': { type: 'string', default: 'hub' }, 'hub-ca': { type: 'string' },
      'leaf-password': { type: 'string' }, etc: { type: 'string', default: '/etc/tessera' }, state: { type: 'string', default: '/var/lib/tessera' },
      repo: { type: 'string', default: '/opt/tessera' }, 'model-dir': { type: 'string' }, 'nats-server': { type: 'string', default: '/usr/local/bin/nats-server' },
    },
  });
  for (const k of ['site', 'hub', 'out', 'site-model'] as const) if (!v[k]) throw invalidArgument(k, `--${k} is required`);
  const leafPassword = v['leaf-password'] ?? secret();
  const files = bareBoxFiles({
    site: v.site!, hubUrl: v.hub!, hubDomain: v['hub-domain']!, siteModel: v['site-model']!, hubModels: v['hub-model']!, ...(v['hub-ca'] && { hubCaFile: v['hub-ca'] }),
    leafPassword, etcDir: v.etc!, stateDir: v.state!, repoDir: v.repo!, modelDir: v['model-dir'] ?? join(v.state!, 'model'), natsServer: v['nats-server']!,
  });
  mkdirSync(v.out!, { recursive: true });
  // Env files and site.conf hold passwords: owner-only.
  for (const [name, text] of Object.entries(files)) writeFileSync(join(v.out!, name), text, { mode: name.endsWith('.service') ? 0o644 : 0o600 });
  console.log(`wrote ${Object.keys(files).sort().join(', ')} to ${v.out}`);
  console.log(`copy *.env, site.conf, site.json to ${v.etc} (add api-keys.json), tessera-*.service to /etc/systemd/system, then: systemctl enable --now tessera-nats tessera-decoder tessera-feedback tessera-gateway`);
  if (!v['leaf-password']) console.log(`the hub's leaf user for this site: ${sitePasswordEnv(v.site!)}=${leafPassword}`);
  return 0;
}
