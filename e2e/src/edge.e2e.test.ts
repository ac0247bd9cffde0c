/**
 * Edge site on a NATS leaf node (issue 18): a hub nats-server and a site nats-server on loopback with
 * separate JetStream domains, the site's uplink over TLS through a relay the test cuts, and the
 * services split between them:
 *   hub:  gateway (serves `hub-big`, plus the uplink queue for sites), decoder, feedback (sources the site)
 *   site: gateway (site config: `edge-small` at the site, hub models over the leaf — `hub-big-stages`
 *         orchestrated at the site against the hub decoder), decoder, feedback,
 *         retrieval (a collection at the site)
 * Both sides run the image stages (slicer, resampler) too.
 * Scenarios in order: hub model from the edge; OpenAI `n` for a hub model; local model; /v1/models and 404 say where models run;
 * response_format, tools and downsample_mode reach a hub model; a > 512 KiB image reaches a hub model
 * (through the site's uplink bucket in the hub's object store); cut the uplink → local model answers,
 * `hub-big` falls back to `edge-small`, `hub-strict` fails fast with 503 + Retry-After, 500 feedback
 * events recorded at the edge, the site's encoder cache and its collection keep serving; restore →
 * exactly 500 at the hub, none counted dropped; the site credential cannot subscribe to another
 * site's or tenant's subjects.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import sharp from 'sharp';
import { SERVICES } from '@tessera/contracts';
import { runCtl } from '@tessera/ctl';
import { startEdgeStack, type EdgeStack, type RunningStack } from '@tessera/local-stack';
import { ensureTinyModel } from '@tessera/model';
import { siteUplinkBucket } from '@tessera/edge';
import { natsClient } from '@tessera/runtime';
import type { HubServer, TopologyServer } from '@tessera/edge/testing';

const KEY = 'sk-edge-acme';
const SITE = 'shop-1';
const FEEDBACK_EVENTS = 500;
let hub: HubServer;
let site: TopologyServer;
let hubStack: RunningStack;
let siteStack: RunningStack;
let hubNc: NatsConnection;
let dir: string;
let edge: EdgeStack;

const until = async (what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** `tessera ctl sites -o json` against the hub's monitoring endpoint. */
async function ctlSites(...extra: string[]): Promise<Array<{ site: string; link: string; feedbackBacklog?: number; feedbackDropped?: number; models: Array<{ id: string; place: string }> }>> {
  let out = '';
  const code = await runCtl(['sites', '--nats-monitor', `http://127.0.0.1:${hub.nats.monitorPort}`, '-o', 'json', ...extra], { out: (t) => (out += t), err: (t) => (out += t), env: {} });
  expect(code, out).toBe(0);
  return JSON.parse(out);
}

const post = (path: string, body: unknown) => fetch(`${siteStack.httpUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const chat = (model: string, extra: Record<string, unknown> = {}) => post('/v1/chat/completions', { model, seed: 3, max_tokens: 4, messages: [{ role: 'user', content: 'hello from the shop' }], ...extra });
/** Noise PNGs do not compress: `side`² × 3 bytes, so 560 px is ~0.94 MB, above the 512 KiB claim-check threshold. */
const noisePng = (side: number) => sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png().toBuffer();
const withImage = (png: Buffer, text = 'What is this?') => ({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${png.toString('base64')}` } }, { type: 'text', text }] }] });

/** Feedback events of tenant acme in a feedback stream (responses are recorded too; only feedback counts). */
async function feedbackCount(nc: NatsConnection): Promise<number> {
  const info = await (await nc.jetstreamManager()).streams.info('TESSERA_FEEDBACK', { subjects_filter: 'tessera.feedback.events.acme.feedback' });
  return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
}

beforeAll(async () => {
  const modelDir = await ensureTinyModel();
  dir = mkdtempSync(join(tmpdir(), 'tessera-edge-e2e-'));
  const keysFile = join(dir, 'keys.json');
  writeFileSync(keysFile, JSON.stringify({ keys: [{ id: 'acme', tenant: 'acme', sha256: createHash('sha256').update(KEY).digest('hex') }] }));
  edge = await startEdgeStack({
    modelDir,
    workDir: join(dir, 'stack'),
    site: SITE,
    keysFile,
    hubModel: 'hub-big',
    siteModel: 'edge-small',
    // A hub model whose policy is `fail`: asked only while the uplink is down.
    // The same hub model once more, orchestrated by the site itself (route "stages", the model's card at
    // the site): text requests call the hub decoder over the leaf; `fail` while the uplink is down.
    extraModels: [
      { id: 'hub-strict', place: 'hub', fallback: 'fail' },
      { id: 'hub-big-stages', place: 'hub', fallback: 'fail', route: 'stages', modelDir },
    ],
    siteFeedbackMaxEvents: 100_000,
    hubServices: ['slicer', 'resampler', 'decoder', 'feedback', 'gateway'],
    siteServices: ['slicer', 'resampler', 'decoder', 'feedback', 'retrieval', 'gateway'],
    env: { TESSERA_INTRA_OP_THREADS: '1' },
  });
  ({ hub, site, hubStack, siteStack } = edge);
  hubNc = await connect({ servers: hub.nats.url, user: edge.operator.user, pass: edge.operator.password });
}, 420_000);

afterAll(async () => {
  await hubNc?.close();
  await edge?.stop();
  if (dir && !process.env.TESSERA_KEEP_E2E_DIR) rmSync(dir, { recursive: true, force: true });
});

describe('edge site on a leaf node', () => {
  let localResponseId = '';
  let storedHubResponse: any;

  it('serves a hub model from the edge over the leaf link', async () => {
    const res = await chat('hub-big');
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(res.headers.get('x-tessera-served-by')).toBe('hub');
    expect(body.model).toBe('hub-big');
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
  });

  it('a hub model scores a prompt for the site (echo with logprobs on a token-id prompt, as lm-eval asks): the hub decodes and scores it', async () => {
    const res = await post('/v1/completions', { model: 'hub-big', prompt: [9707, 11, 1879], echo: true, logprobs: 1, max_tokens: 1, temperature: 0 });
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(res.headers.get('x-tessera-served-by')).toBe('hub');
    const lp = body.choices[0].logprobs;
    expect(lp.token_logprobs).toHaveLength(4);
    expect(lp.token_logprobs[0]).toBeNull();
    expect(lp.token_logprobs.slice(1).every((x: unknown) => typeof x === 'number' && x <= 0)).toBe(true);
    expect(body.choices[0].text.startsWith(lp.tokens.slice(0, 3).join(''))).toBe(true);
  });

  it("OpenAI n for a hub model: the hub generates every choice (seed + i), the site streams and answers them all", async () => {
    const sampled = { temperature: 1, max_tokens: 6 };
    const res = await chat('hub-big', { ...sampled, n: 2 });
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(res.headers.get('x-tessera-served-by')).toBe('hub');
    const singles = [(await (await chat('hub-big', sampled)).json()) as any, (await (await chat('hub-big', { ...sampled, seed: 4 })).json()) as any];
    expect(body.choices.map((c: any) => [c.index, c.message.content])).toEqual(singles.map((b, i) => [i, b.choices[0].message.content]));
    expect(body.usage.completion_tokens).toBe(singles[0].usage.completion_tokens + singles[1].usage.completion_tokens);
    const events = (await (await chat('hub-big', { ...sampled, n: 2, stream: true })).text()).split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect([0, 1].map((i) => chunks.filter((c) => c.choices[0]?.index === i).map((c) => c.choices[0].delta.content ?? '').join(''))).toEqual(body.choices.map((c: any) => c.message.content));
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].index).sort()).toEqual([0, 1]);
  });

  it('a hub model on the stages route: the site orchestrates and the hub decoder answers over the leaf, as the hub gateway would; the answer is recorded at the site', async () => {
    const viaGateway = (await (await chat('hub-big', { max_tokens: 6 })).json()) as any;
    const res = await chat('hub-big-stages', { max_tokens: 6 });
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(res.headers.get('x-tessera-served-by')).toBe('hub');
    expect(body.model).toBe('hub-big-stages');
    expect(body.choices[0].message.content).toBe(viaGateway.choices[0].message.content);
    expect([body.usage.prompt_tokens, body.usage.completion_tokens]).toEqual([viaGateway.usage.prompt_tokens, viaGateway.usage.completion_tokens]);
    // The card gives the site the model's tokenizer: vLLM's /tokenize answers for it, with the decoder's count.
    const tokenized = (await (await post('/tokenize', { model: 'hub-big-stages', messages: [{ role: 'user', content: 'hello from the shop' }] })).json()) as any;
    expect(tokenized.count).toBe(body.usage.prompt_tokens);
    // The site's gateway ran the orchestrator, so the record went to the site's feedback service (sourced to the hub from there).
    await until('the answer recorded at the site', async () => (await fetch(`${siteStack.httpUrl}/v1/tessera/responses/${body.id}`, { headers: { authorization: `Bearer ${KEY}` } })).status === 200, 10_000);
    const record = (await (await fetch(`${siteStack.httpUrl}/v1/tessera/responses/${body.id}`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as any;
    expect(record.response.answer).toBe(body.choices[0].message.content);
    // Streamed, with prompt scoring (computed in the hub decoder): the same text.
    const streamed = await chat('hub-big-stages', { max_tokens: 6, stream: true });
    const text = (await streamed.text()).split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe(body.choices[0].message.content);
    const scored = await post('/v1/completions', { model: 'hub-big-stages', prompt: [9707, 11, 1879], echo: true, logprobs: 1, max_tokens: 1, temperature: 0 });
    const sb = (await scored.json()) as any;
    expect(scored.status, JSON.stringify(sb)).toBe(200);
    const viaHub = (await (await post('/v1/completions', { model: 'hub-big', prompt: [9707, 11, 1879], echo: true, logprobs: 1, max_tokens: 1, temperature: 0 })).json()) as any;
    expect(sb.choices[0].logprobs.token_logprobs).toEqual(viaHub.choices[0].logprobs.token_logprobs);
  });

  it("/v1/responses stores a hub model's answer at the site (its own bucket, in the site domain), not at the hub", async () => {
    const res = await post('/v1/responses', { model: 'hub-big', input: 'hello from the shop', max_output_tokens: 4, seed: 3 });
    storedHubResponse = await res.json();
    expect(res.status, JSON.stringify(storedHubResponse)).toBe(200);
    expect(storedHubResponse).toMatchObject({ store: true, model: 'hub-big' });
    const atHub = await fetch(`${hubStack.httpUrl}/v1/responses/${storedHubResponse.id}`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(atHub.status).toBe(404);
  });

  it('serves a local model at the site', async () => {
    const res = await chat('edge-small');
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(res.headers.get('x-tessera-served-by')).toBe(`site:${SITE}`);
    expect(body.model).toBe('edge-small');
    localResponseId = body.id;
  });

  it('lists models with where they run; an unknown model is a 404 that says where models run', async () => {
    const list = (await (await fetch(`${siteStack.httpUrl}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as any;
    const where = Object.fromEntries(list.data.map((m: any) => [m.id, m.tessera_place]));
    expect(where).toEqual({ 'edge-small': 'site', 'hub-big': 'hub', 'hub-strict': 'hub', 'hub-big-stages': 'hub' });
    // The stages route reads the family from the model card at the site.
    expect(list.data.filter((m: any) => m.tessera_place === 'hub').map((m: any) => [m.id, m.tessera_route, m.family])).toEqual([
      ['hub-big', 'gateway', undefined],
      ['hub-strict', 'gateway', undefined],
      ['hub-big-stages', 'stages', '2.6'],
    ]);
    const res = await chat('nowhere');
    const body = (await res.json()) as any;
    expect(res.status).toBe(404);
    expect(body.error.message).toMatch(/models run at: edge-small \(site shop-1\), hub-big \(hub, falls back to edge-small\), hub-strict \(hub\), hub-big-stages \(hub\)/);
  });

  it('forwards response_format, tools and downsample_mode to a hub model', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string', enum: ['Paris', 'Rome'] } }, required: ['city'], additionalProperties: false };
    // Constrained decoding runs in the hub's decoder: even the tiny random model answers in the schema.
    const structured = await chat('hub-big', { max_tokens: 24, response_format: { type: 'json_schema', json_schema: { name: 'city', schema } } });
    const sb = (await structured.json()) as any;
    expect(structured.status, JSON.stringify(sb)).toBe(200);
    expect(structured.headers.get('x-tessera-served-by')).toBe('hub');
    expect(['Paris', 'Rome']).toContain(JSON.parse(sb.choices[0].message.content).city);

    // A forced tool call: the hub constrains the arguments; this site's HTTP edge turns them into tool_calls.
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: schema } }];
    const called = await chat('hub-big', { max_tokens: 24, tools, tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    const cb = (await called.json()) as any;
    expect(called.status, JSON.stringify(cb)).toBe(200);
    expect(called.headers.get('x-tessera-served-by')).toBe('hub');
    expect(cb.choices[0].finish_reason).toBe('tool_calls');
    expect(cb.choices[0].message.tool_calls[0].function.name).toBe('get_weather');
    expect(['Paris', 'Rome']).toContain(JSON.parse(cb.choices[0].message.tool_calls[0].function.arguments).city);

    // downsample_mode reaches the hub, whose family (2.6, the tiny model) has no token modes: the hub's 400 names the field.
    const mode = await chat('hub-big', { ...withImage(await noisePng(64)), mm_processor_kwargs: { downsample_mode: '4x' } });
    const mb = (await mode.json()) as any;
    expect(mode.status, JSON.stringify(mb)).toBe(400);
    expect(mb.error.param ?? mb.error.message).toMatch(/downsample_mode/);
    expect(mb.error.message).not.toMatch(/not forwarded/);
  });

  it('a hub model reads a > 512 KiB image: the site puts it into its uplink bucket in the hub domain', async () => {
    const image = await noisePng(560);
    expect(image.length).toBeGreaterThan(512 * 1024);
    const res = await chat('hub-big', withImage(image));
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(res.headers.get('x-tessera-served-by')).toBe('hub');
    expect(body.usage.prompt_tokens_details.image_tokens).toBeGreaterThan(0);
    const bucket = await (await hubNc.jetstreamManager()).streams.info(`OBJ_${siteUplinkBucket(SITE)}`);
    expect(bucket.state.bytes).toBeGreaterThan(image.length);
  });

  const cachedImage = noisePng(300);
  it('a site model with an image fills the site encoder cache', async () => {
    const res = await chat('edge-small', withImage(await cachedImage));
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.tessera.timings_ms.encoder_cache_hits).toBe(0);
  });

  it('uplink cut: local model answers, hub model falls back or fails fast, feedback recorded at the edge', { timeout: 180_000 }, async () => {
    hub.uplink.cut();
    const cutAt = Date.now();
    const strict = await chat('hub-strict');
    const strictMs = Date.now() - cutAt;
    expect(strict.status).toBe(503);
    expect(Number(strict.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await strict.json()) as any).error.message).toMatch(/hub is unreachable/);
    console.log(`edge e2e: hub-strict answered 503 ${strictMs} ms after the uplink was cut`);
    // The stages route calls the hub decoder itself: it fails as fast, and is never answered by the site's own decoder.
    const stagesAt = Date.now();
    const stages = await chat('hub-big-stages');
    expect(stages.status, await stages.clone().text()).toBe(503);
    expect(Date.now() - stagesAt).toBeLessThan(2_000);
    expect(Number(stages.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const fallback = await chat('hub-big');
    const fb = (await fallback.json()) as any;
    expect(fallback.status, JSON.stringify(fb)).toBe(200);
    expect(fb.model).toBe('edge-small');
    expect(fallback.headers.get('x-tessera-fallback-for')).toBe('hub-big');
    expect(fallback.headers.get('x-tessera-served-by')).toBe(`site:${SITE}`);

    const local = await chat('edge-small');
    expect(local.status).toBe(200);
    await local.json();

    for (let i = 0; i < FEEDBACK_EVENTS; i += 25) {
      await Promise.all(
        Array.from({ length: Math.min(25, FEEDBACK_EVENTS - i) }, async (_, j) => {
          const res = await post('/v1/tessera/feedback', { feedback: { feedbackId: `edge-fb-${i + j}`, responseId: localResponseId, rating: { key: 'overall', thumbs: 1 } } });
          expect(res.status, await res.text()).toBe(200);
        }),
      );
    }
    const siteNc = await connect({ servers: site.nats.url, user: edge.operator.user, pass: edge.operator.password });
    try {
      expect(await feedbackCount(siteNc)).toBe(FEEDBACK_EVENTS);
    } finally {
      await siteNc.close();
    }
    expect(await feedbackCount(hubNc)).toBe(0);
    const [down] = await ctlSites();
    expect(down).toMatchObject({ site: SITE, link: 'down' });
  });

  it('uplink cut: stored responses at the site are retrieved and continued by previous_response_id', async () => {
    const got = await fetch(`${siteStack.httpUrl}/v1/responses/${storedHubResponse.id}`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual(storedHubResponse);
    const res = await post('/v1/responses', { model: 'edge-small', previous_response_id: storedHubResponse.id, input: 'and again', max_output_tokens: 4, seed: 3 });
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ store: true, previous_response_id: storedHubResponse.id, model: 'edge-small' });
    expect(body.usage.input_tokens).toBeGreaterThan(storedHubResponse.usage.input_tokens);
  });

  it("uplink cut: the site's own collection keeps grounding the site model's answers", async () => {
    // Created and filled before the cut would be the same: retrieval lives in the site's JetStream domain.
    const siteNc = await connect({ servers: site.nats.url, user: edge.operator.user, pass: edge.operator.password });
    try {
      const retrieval = natsClient(siteNc, SERVICES.retrieval.definition);
      await retrieval.createCollection({ name: 'shop-manual', description: '', distance: 0, embeddingModel: '', dimension: 0, getOrCreate: true }, { tenant: 'acme' });
      const documents = [
        { id: 'till', text: 'The till closes at 9pm; count the cash drawer twice.', metadata: {} },
        { id: 'fridge', text: 'The fridge is defrosted every Monday morning.', metadata: {} },
      ];
      await retrieval.addDocuments({ collection: 'shop-manual', documents, async: false }, { tenant: 'acme' });
      retrieval.close();
    } finally {
      await siteNc.close();
    }
    const res = await chat('edge-small', { collection: { name: 'shop-manual', k: 1 }, messages: [{ role: 'user', content: 'When does the till close?' }] });
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.tessera.sources[0].id).toMatch(/^till/);
  });

  it("uplink cut: the site's encoder cache keeps serving images (a hit for the image seen before, a new image is encoded and cached at the site)", async () => {
    const hit = await chat('edge-small', withImage(await cachedImage));
    const hb = (await hit.json()) as any;
    expect(hit.status, JSON.stringify(hb)).toBe(200);
    expect(hb.tessera.timings_ms.encoder_cache_hits).toBe(1);
    const fresh = await noisePng(280);
    const miss = (await (await chat('edge-small', withImage(fresh))).json()) as any;
    expect(miss.tessera.timings_ms.encoder_cache_hits).toBe(0);
    const again = (await (await chat('edge-small', withImage(fresh))).json()) as any;
    expect(again.tessera.timings_ms.encoder_cache_hits).toBe(1);
    expect(again.choices[0].message.content).toBe(miss.choices[0].message.content);
  });

  it('uplink restored: exactly 500 feedback events at the hub, none duplicated; hub models served again', { timeout: 120_000 }, async () => {
    hub.uplink.restore();
    await until('hub caught up', async () => (await feedbackCount(hubNc)) >= FEEDBACK_EVENTS);
    await new Promise((r) => setTimeout(r, 2_000)); // a duplicate would arrive in this window
    expect(await feedbackCount(hubNc)).toBe(FEEDBACK_EVENTS);
    await until('hub model served by the hub again', async () => {
      const res = await chat('hub-big');
      await res.json();
      return res.headers.get('x-tessera-served-by') === 'hub';
    });
    await until('ctl sites sees the site with its models', async () => (await ctlSites())[0]?.models.length === 4);
    const [up] = await ctlSites();
    expect(up).toMatchObject({ site: SITE, link: 'up', feedbackBacklog: 0 });
    // The hub counts what a site's stream dropped before it got there: nothing here (the site keeps 100k).
    const feedbackMetrics = hubStack.processes.find((p) => p.name === 'feedback')!.metricsPort;
    expect((await ctlSites('--feedback-metrics', `http://127.0.0.1:${feedbackMetrics}/metrics`))[0]).toMatchObject({ site: SITE, feedbackDropped: 0 });
    expect(up!.models).toEqual(expect.arrayContaining([{ id: 'edge-small', place: 'site' }, { id: 'hub-big', place: 'hub' }, { id: 'hub-strict', place: 'hub' }]));
  });

  it("feedback on a hub model's answer, given at the site, is checked and stored at the hub, under the id the client saw", async () => {
    const res = await chat('hub-big');
    const body = (await res.json()) as any;
    expect(res.headers.get('x-tessera-served-by')).toBe('hub');
    const fb = await post('/v1/tessera/feedback', { feedback: { feedbackId: 'hub-answer-1', responseId: body.id, rating: { key: 'overall', thumbs: 1 }, comment: 'rated at the shop' } });
    expect(fb.status, await fb.clone().text()).toBe(200);
    // The hub recorded the answer under the site's response id; the feedback sits with it there.
    const atHub = await fetch(`${hubStack.httpUrl}/v1/tessera/responses/${body.id}`, { headers: { authorization: `Bearer ${KEY}` } });
    const record = (await atHub.json()) as any;
    expect(atHub.status, JSON.stringify(record)).toBe(200);
    expect(record.response.answer).toBe(body.choices[0].message.content);
    expect(record.feedback.map((f: any) => [f.feedback.feedbackId, f.feedback.comment])).toEqual([['hub-answer-1', 'rated at the shop']]);
    // An id neither the site nor the hub knows: 404 naming the field (the hub's answer).
    const unknown = await post('/v1/tessera/feedback', { feedback: { feedbackId: 'hub-answer-2', responseId: 'chatcmpl-00000000-0000-0000-0000-000000000000', rating: { key: 'overall', thumbs: 1 } } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as any).error.param).toBe('feedback.response_id');
  });

  it("the site credential cannot subscribe to another site's or a tenant's subjects at the hub", async () => {
    const asSite = await connect({ servers: hub.nats.url, user: SITE, pass: edge.leafPassword });
    const denied: string[] = [];
    void (async () => {
      for await (const s of asSite.status()) {
        const ctx = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
        if (ctx) denied.push(ctx.subject);
      }
    })();
    try {
      const subjects = ['_INBOX_shop-2.>', 'tessera.site.shop-2.deliver.>', 'tessera.feedback.events.acme.>', 'tessera.work.decoder.>'];
      for (const s of subjects) asSite.subscribe(s);
      // Hub stages only on a decoder's site subjects (tessera.hubmodel.>, where it binds Generate alone): never their own subjects or queues.
      const published = ['tessera.decoding.v1.DecoderService.Generate', 'tessera.vision.v1.SlicerService.Slice', 'tessera.work.decoder.v1.DecoderService.Generate'];
      for (const s of published) asSite.publish(s);
      asSite.publish('tessera.hubmodel.0000.v1.DecoderService.Generate'); // allowed: no violation
      await asSite.flush();
      await until('permission violations', () => denied.length >= subjects.length + published.length, 10_000);
      await new Promise((r) => setTimeout(r, 200)); // a violation for the allowed subject would arrive here
      expect(denied.sort()).toEqual([...subjects, ...published].sort());
    } finally {
      await asSite.close();
    }
  });
});
