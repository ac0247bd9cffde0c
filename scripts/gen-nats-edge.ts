/**
 * Writes helm/tessera/files/nats/edge-hub.json from libs/edge (`hubUserTemplates`): the hub's service
 * users with the edge grants, and the per-site grants with `{site}`/`{domain}`/`{hubDomain}` that the
 * chart substitutes for each entry of edge.sites (templates/_edge-nats.tpl); and edge-site.json
 * (`siteUserTemplates`): a site's service users, `{site}`/`{hubDomain}` substituted from edge.site.
 *   node --import tsx scripts/gen-nats-edge.ts
 * libs/ctl/src/chart-edge.test.ts fails when the checked-in file differs from what this writes.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hubUserTemplates, siteUserTemplates } from '@tessera/edge';

export const EDGE_HUB_JSON = 'helm/tessera/files/nats/edge-hub.json';
export const edgeHubJson = (): string => `${JSON.stringify(hubUserTemplates(), null, 2)}\n`;
export const EDGE_SITE_JSON = 'helm/tessera/files/nats/edge-site.json';
export const edgeSiteJson = (): string => `${JSON.stringify(siteUserTemplates(), null, 2)}\n`;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  writeFileSync(join(root, EDGE_HUB_JSON), edgeHubJson());
  writeFileSync(join(root, EDGE_SITE_JSON), edgeSiteJson());
  console.log(`wrote ${EDGE_HUB_JSON}, ${EDGE_SITE_JSON}`);
}
