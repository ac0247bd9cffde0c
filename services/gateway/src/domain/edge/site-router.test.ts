import { describe, expect, it } from 'vitest';
import { ErrorCode, TesseraError } from '@tessera/errors';
import { parseSiteConfig, type HubLink, type LinkState } from '@tessera/edge';
import type { ChatContext, ChatEvent, ChatRoute, ChatService } from '../chat-events.js';
import type { ValidChatRequest } from '../openai/valid-request.js';
import { DEFAULT_CHAT_LIMITS } from '../openai/limits.js';
import { validateChatRequest } from '../openai/validate-chat.js';
import { validateCompletionRequest } from '../openai/validate-completion.js';
import { SiteRouter } from './site-router.js';

const site = parseSiteConfig({
  site: 'shop-1',
  hubDomain: 'hub',
  models: [
    { id: 'small', place: 'site' },
    { id: 'big', place: 'hub', fallback: 'serve-local-model-small' },
    { id: 'strict', place: 'hub', fallback: 'fail' },
    { id: 'hub46', place: 'hub', family: '4.6' },
  ],
});
const final: ChatEvent = { kind: 'final', finishReason: 'stop', usage: { promptTokens: 1, visualTokens: 0, completionTokens: 1 }, timings: {}, sources: [] };

function service(name: string, fail?: { before?: TesseraError; after?: TesseraError }): ChatService & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    estimatePromptTokens: async () => 1,
    async *chat(req) {
      asked.push(req.model);
      if (fail?.before) throw fail.before;
      yield { kind: 'delta', text: name, tokenIds: [1] };
      if (fail?.after) throw fail.after;
      yield final;
    },
  };
}

function link(state: LinkState): HubLink & { failures: number; alive: number } {
  const l = { state, failures: 0, alive: 0, reportFailure() { l.failures++; l.state = 'down'; }, reportAlive() { l.alive++; } };
  return l as unknown as HubLink & { failures: number; alive: number };
}

async function run(router: SiteRouter, model: string, req: Partial<ValidChatRequest> = {}) {
  const routes: ChatRoute[] = [];
  const ctx = { onRoute: (r: ChatRoute) => routes.push(r) } as unknown as ChatContext;
  const events: ChatEvent[] = [];
  for await (const ev of router.chat({ model, images: [], ...req } as ValidChatRequest, ctx)) events.push(ev);
  return { text: events.filter((e) => e.kind === 'delta').map((e) => (e as { text: string }).text).join(''), routes };
}

const unavailable = () => new TesseraError(ErrorCode.UNAVAILABLE, 'no responders on tessera.work.uplink…');

describe('SiteRouter', () => {
  it('serves site models locally and hub models at the hub, saying where', async () => {
    const local = service('local');
    const hub = service('hub');
    const l = link('up');
    const r = new SiteRouter(site, local, hub, l);
    expect(await run(r, 'small')).toEqual({ text: 'local', routes: [{ model: 'small', servedBy: 'site:shop-1' }] });
    expect(l.alive).toBe(0);
    expect(await run(r, 'big')).toEqual({ text: 'hub', routes: [{ model: 'big', servedBy: 'hub' }] });
    // Each event of the hub's answer (a delta and the final) tells the link it is up (it skips a probe then).
    expect(l.alive).toBe(2);
  });

  it('falls back to the site model when the hub cannot be reached before the first token', async () => {
    const local = service('local');
    const l = link('up');
    const r = new SiteRouter(site, local, service('hub', { before: unavailable() }), l);
    expect(await run(r, 'big')).toEqual({ text: 'local', routes: [{ model: 'small', servedBy: 'site:shop-1', fallbackFor: 'big' }] });
    expect(local.asked).toEqual(['small']);
    expect(l.failures).toBe(1);
  });

  it('fails fast with 503 + retry hint under the `fail` policy, and skips the hub while the link is down', async () => {
    const hub = service('hub');
    const r = new SiteRouter(site, service('local'), hub, link('down'));
    const err = await run(r, 'strict').catch((e: unknown) => e as TesseraError);
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe(ErrorCode.UNAVAILABLE);
    expect((err as TesseraError).details.retryAfterMs).toBe(2000);
    expect(hub.asked).toEqual([]);
  });

  it('never falls back after tokens were sent, nor on errors other than an unreachable hub', async () => {
    const mid = new SiteRouter(site, service('local'), service('hub', { after: unavailable() }), link('up'));
    await expect(run(mid, 'big')).rejects.toThrow(/no responders/);
    const bad = new SiteRouter(site, service('local'), service('hub', { before: new TesseraError(ErrorCode.INVALID_ARGUMENT, 'bad seed', { field: 'seed' }) }), link('up'));
    await expect(run(bad, 'big')).rejects.toThrow(/bad seed/);
  });

  it('an unknown model is NOT_FOUND listing where models run', async () => {
    const r = new SiteRouter(site, service('local'), service('hub'), link('up'));
    await expect(run(r, 'nope')).rejects.toThrow('model "nope" does not exist; models run at: small (site shop-1), big (hub, falls back to small), strict (hub), hub46 (hub)');
  });

  it("checks a request against the family of the model it names: the site's own for site models, the declared one for hub models", () => {
    const r = new SiteRouter(site, service('local'), service('hub'), link('up'));
    // A local family without a tool format must not refuse tools for a hub model the hub serves as 4.6.
    const local = { toolCalls: false, familyName: 'Toy 1.0', why: 'its template has no tool section' };
    const tool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } };
    const ask = (model: string) => validateChatRequest({ model, messages: [{ role: 'user', content: 'hi' }], tools: [tool] }, DEFAULT_CHAT_LIMITS, r.models(), (id) => r.features(id, local));
    expect(() => ask('small')).toThrow(/"small" \(Toy 1\.0\) does not support tool calls/);
    expect(ask('hub46').tools?.tools[0]?.name).toBe('get_weather');
    expect(r.features('hub46', local).familyName).toBe('MiniCPM-V 4.6');
    // Undeclared: the site passes it on, the hub's validation decides.
    expect(ask('strict').tools?.tools[0]?.name).toBe('get_weather');
    expect(r.describe('hub46')).toMatchObject({ family: '4.6', tessera_place: 'hub' });
  });

  it('routes a text completion like a chat: a site model answers at the site, a hub model at the hub or its fallback, the prompt kept', async () => {
    const prompts: Array<[string, string, string | undefined]> = [];
    const recording = (name: string): ChatService => ({
      estimatePromptTokens: async () => 1,
      async *chat(req) {
        prompts.push([name, req.model, req.prompt]);
        yield final;
      },
    });
    const l = link('up');
    const r = new SiteRouter(site, recording('local'), recording('hub'), l);
    const ctx = { onRoute: () => {} } as unknown as ChatContext;
    const complete = async (model: string) => {
      for await (const _ of r.chat(validateCompletionRequest({ model, prompt: 'Once' }, DEFAULT_CHAT_LIMITS, r.models()), ctx));
    };
    await complete('small');
    await complete('big');
    l.reportFailure(); // the link is down: `big` falls back to the site's `small`
    await complete('big');
    expect(prompts).toEqual([['local', 'small', 'Once'], ['hub', 'big', 'Once'], ['local', 'small', 'Once']]);
  });

  it('a hub model on the stages route: text runs on the site-side orchestrator, images, video and collections go to the hub gateway; the link and fallback rules hold', async () => {
    const cfg = parseSiteConfig({ site: 'shop-1', hubDomain: 'hub', models: [{ id: 'small', place: 'site' }, { id: 'big', place: 'hub', route: 'stages', modelDir: '/cards/big', fallback: 'serve-local-model-small' }] });
    const hub = service('hub');
    const stages = service('stages');
    const l = link('up');
    // A request the stages route would have to claim-check (here: any prompt over 1000 characters) takes the gateway route.
    const fitsInline = (req: ValidChatRequest) => (req.prompt?.length ?? 0) <= 1000;
    const r = new SiteRouter(cfg, service('local'), hub, l, new Map([['big', { chat: { ...stages, chat: stages.chat, estimatePromptTokens: async () => 7 }, family: '4.6', fitsInline }]]));
    expect(await run(r, 'big')).toEqual({ text: 'stages', routes: [{ model: 'big', servedBy: 'hub' }] });
    expect(l.alive).toBe(2);
    const image = { images: [{ kind: 'url' }] } as unknown as Partial<ValidChatRequest>;
    expect((await run(r, 'big', image)).text).toBe('hub');
    expect((await run(r, 'big', { videos: [{}] } as unknown as Partial<ValidChatRequest>)).text).toBe('hub');
    expect((await run(r, 'big', { collection: { name: 'manual', k: 2 } } as Partial<ValidChatRequest>)).text).toBe('hub');
    expect((await run(r, 'big', { prompt: 'x'.repeat(1001) })).text).toBe('hub');
    expect((await run(r, 'big', { prompt: 'x'.repeat(1000) })).text).toBe('stages');
    // The quota estimate comes from whoever runs the request (the stages route has the model's tokenizer).
    expect(await r.estimatePromptTokens({ model: 'big', images: [] } as unknown as ValidChatRequest, {} as never)).toBe(7);
    // The route is decided once per request: the estimate and the chat of one request measure it once.
    let measured = 0;
    const counting = new SiteRouter(cfg, service('local'), hub, link('up'), new Map([['big', { chat: stages, family: '4.6', fitsInline: () => (measured++, true) }]]));
    const one = { model: 'big', images: [] } as unknown as ValidChatRequest;
    await counting.estimatePromptTokens(one, {} as never);
    for await (const _ of counting.chat(one, { onRoute: () => {} } as unknown as ChatContext));
    expect(measured).toBe(1);
    expect(await r.estimatePromptTokens({ model: 'big', images: [{}] } as unknown as ValidChatRequest, {} as never)).toBe(1);
    // The family is the card's, for validation and /v1/models.
    expect(r.features('big', { toolCalls: false, familyName: 'Toy 1.0' }).familyName).toBe('MiniCPM-V 4.6');
    expect(r.describe('big')).toMatchObject({ family: '4.6', tessera_route: 'stages' });
    // The hub decoder unreachable before the first token: the same fallback as the hub gateway's route.
    // The link itself stays up: no decoder for this model is not a lost link (other hub models still answer).
    const up = link('up');
    const down = new SiteRouter(cfg, service('local'), hub, up, new Map([['big', { chat: service('stages', { before: unavailable() }), family: '4.6', fitsInline }]]));
    expect(await run(down, 'big')).toEqual({ text: 'local', routes: [{ model: 'small', servedBy: 'site:shop-1', fallbackFor: 'big' }] });
    expect([up.state, up.failures]).toEqual(['up', 0]);
    expect((await run(down, 'big', image)).text).toBe('hub');
  });
});
