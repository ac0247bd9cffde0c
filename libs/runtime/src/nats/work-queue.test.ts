import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscardPolicy, headers as natsHeaders, nanos } from 'nats';
import { waitFor } from '@tessera/testing';
import { withNats } from '@tessera/testing/vitest';
import { bindNats, type NatsBinding } from './server.js';
import { natsClient } from './client.js';
import { errorFromHeaders } from './status.js';
import { Header } from '../wire-headers.js';
import { ErrorCode, TesseraError } from '@tessera/errors';
import type { CallContext } from '../context.js';
import { ECHO_WORK_QUEUE, EchoServiceService, echoService, type EchoRequest } from '../test/proof/echo-service.js';
import type { ServiceClient } from '../client-types.js';
import { ensureWorkStream, WORK_STREAM_LIMITS } from './streams.js';

const req = (o: Partial<EchoRequest> = {}): EchoRequest => ({ text: 'hi', delayMs: 0, blob: Buffer.alloc(0), failCode: '', ...o });

describe('JetStream work queue', () => {
  const bus = withNats();
  let binding: NatsBinding;
  let client: ServiceClient<typeof EchoServiceService>;
  const starts: string[] = [];
  const streamEnds: number[] = [];
  const advisories: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const impl = echoService({ onStart: (m, ctx) => starts.push(`${m}:${ctx.requestId}:${ctx.attempt}`), onStreamEnd: (n) => streamEnds.push(n) });
    const flaky = {
      ...impl,
      // "flaky-N": UNAVAILABLE until attempt N (retry with backoff), "crash": always INTERNAL.
      async work(r: EchoRequest, ctx: CallContext) {
        const m = /^flaky-(\d+)$/.exec(r.text);
        if (m && ctx.attempt < Number(m[1])) throw new TesseraError(ErrorCode.UNAVAILABLE, `transient failure on attempt ${ctx.attempt}`);
        if (r.text === 'crash') throw new Error('handler bug');
        return impl.work(r, ctx);
      },
    };
    bus.nc.subscribe('tessera.advisory.poison.echo', { callback: (_e, m) => advisories.push(m.json()) });
    binding = await bindNats(bus.nc, EchoServiceService, flaky, {
      serviceName: 'echo',
      workQueue: { ...ECHO_WORK_QUEUE, concurrency: 2, ackWaitMs: 2_000, maxDeliver: 3, backoffMs: [50, 100] },
    });
    client = natsClient(bus.nc, EchoServiceService, { workQueue: ECHO_WORK_QUEUE, streamWindow: 8 });
  });
  afterAll(async () => {
    client.close();
    await binding.stop(1000);
  });

  it('creates the stage stream and durable consumer with the shared names and the one definition of the limits', async () => {
    const jsm = await bus.nc.jetstreamManager();
    const s = await jsm.streams.info('TESSERA_ECHO');
    expect(s.config.subjects).toEqual(['tessera.work.echo.>']);
    expect(s.config.retention).toBe('workqueue');
    expect(s.config).toMatchObject({ discard: 'new', max_msgs: 100_000, max_bytes: 1024 ** 3, max_msg_size: 1024 ** 2, max_age: nanos(3_600_000) });
    const c = await jsm.consumers.info('TESSERA_ECHO', 'echo-workers');
    expect(c.config.ack_policy).toBe('explicit');
    expect(c.config.max_deliver).toBe(3);
  });

  it('brings a stream made by an older version (1 day, discard old, no caps) in line', async () => {
    const jsm = await bus.nc.jetstreamManager();
    await jsm.streams.add({ name: 'TESSERA_OLDSTAGE', subjects: ['tessera.work.oldstage.>'], retention: 'workqueue' as never, discard: DiscardPolicy.Old, max_age: nanos(86_400_000) });
    await ensureWorkStream(jsm, 'oldstage');
    expect((await jsm.streams.info('TESSERA_OLDSTAGE')).config).toMatchObject({ discard: 'new', max_msgs: WORK_STREAM_LIMITS.maxJobs, max_age: nanos(WORK_STREAM_LIMITS.maxAgeMs) });
  });

  it('a full work queue refuses the new job at once with RESOURCE_EXHAUSTED naming the stream (queued jobs are kept)', async () => {
    const jsm = await bus.nc.jetstreamManager();
    const full = natsClient(bus.nc, EchoServiceService, { workQueue: { stage: 'fullstage', methods: ['work', 'countWork'] }, electionWaitMs: 10_000 });
    try {
      // No worker on this stage: the first call creates the stream and times out; its job is purged.
      await expect(full.work(req(), { tenant: 'acme', timeoutMs: 300 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
      await jsm.streams.purge('TESSERA_FULLSTAGE');
      // Shrink the queue to one job (a stand-in for 100k) and fill it.
      const { config } = await jsm.streams.info('TESSERA_FULLSTAGE');
      await jsm.streams.update('TESSERA_FULLSTAGE', { ...config, max_msgs: 1 });
      await bus.nc.jetstream().publish('tessera.work.fullstage.v1.EchoService.Work', new Uint8Array(1));
      const t0 = Date.now();
      const e = TesseraError.from(await full.work(req(), { tenant: 'acme', timeoutMs: 30_000 }).catch((x: unknown) => x));
      expect(e.code).toBe(ErrorCode.RESOURCE_EXHAUSTED);
      expect(e.details).toMatchObject({ field: 'TESSERA_FULLSTAGE', limit: 'jobs <= 100000' });
      expect(Date.now() - t0).toBeLessThan(5_000); // not mistaken for a leader election (electionWaitMs 10 s)
      expect((await jsm.streams.info('TESSERA_FULLSTAGE')).state.messages).toBe(1); // the queued job is still there
    } finally {
      full.close();
    }
  });

  it('runs a unary job and replies on the caller inbox', async () => {
    const res = await client.work(req({ text: 'job' }), { tenant: 'acme', requestId: 'wq-1' });
    expect(res).toMatchObject({ text: 'job', tenant: 'acme', requestId: 'wq-1', attempt: 1 });
  });

  it('streams a job with flow control', async () => {
    const got: number[] = [];
    for await (const m of client.countWork({ count: 30, delayMs: 0, failAfter: 0 }, { tenant: 'acme' })) got.push(m.n);
    expect(got).toEqual([...Array(30).keys()]);
  });

  it('cancels a streaming job on the worker when the caller aborts, and acks it', async () => {
    const ac = new AbortController();
    const before = streamEnds.length;
    const err = await (async () => {
      for await (const m of client.countWork({ count: 10_000, delayMs: 5, failAfter: 0 }, { tenant: 'acme', signal: ac.signal })) if (m.n === 3) ac.abort();
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CANCELLED' });
    await waitFor(() => streamEnds.length > before);
    expect(streamEnds.at(-1)!).toBeLessThan(5_000); // of 10 000: stopped early (slack for a loaded CI box)
    const jsm = await bus.nc.jetstreamManager();
    await waitFor(async () => (await jsm.consumers.info('TESSERA_ECHO', 'echo-workers')).num_ack_pending === 0);
  });

  it('withdraws a job from the stream when the caller aborts before any worker took it', async () => {
    // Both worker slots (concurrency 2) busy, so the third job waits in the stream.
    const busy = [1, 2].map((i) => client.work(req({ delayMs: 1_500 }), { tenant: 'acme', requestId: `busy-${i}` }));
    await waitFor(() => starts.some((s) => s.includes(':busy-1:')) && starts.some((s) => s.includes(':busy-2:')));
    const ac = new AbortController();
    const queued = client.work(req(), { tenant: 'acme', requestId: 'withdrawn', signal: ac.signal });
    const jsm = await bus.nc.jetstreamManager();
    await waitFor(async () => (await jsm.consumers.info('TESSERA_ECHO', 'echo-workers')).num_pending === 1);
    ac.abort();
    await expect(queued).rejects.toMatchObject({ code: 'CANCELLED' });
    await waitFor(async () => (await jsm.consumers.info('TESSERA_ECHO', 'echo-workers')).num_pending === 0);
    await Promise.all(busy);
    await new Promise((r) => setTimeout(r, 300));
    expect(starts.some((s) => s.includes(':withdrawn:'))).toBe(false);
  });

  it('retries retryable failures with backoff and succeeds on a later delivery', async () => {
    const res = await client.work(req({ text: 'flaky-2' }), { tenant: 'acme' });
    expect(res.attempt).toBe(2);
  });

  it('terminates a job failing on every delivery (MaxDeliver), replies the error and publishes an advisory', async () => {
    const err = await client.work(req({ text: 'crash' }), { tenant: 'acme', requestId: 'poison-1' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INTERNAL' });
    expect(starts.filter((s) => s.includes(':poison-1:')).length).toBe(0); // crash happens before the echo impl
    const adv = await waitFor(() => advisories.find((a) => a.requestId === 'poison-1'));
    expect(adv).toMatchObject({ reason: 'max_deliver', deliveries: 3, code: 'INTERNAL', stream: 'TESSERA_ECHO' });
  });

  it('replies non-retryable handler errors once, without redelivery', async () => {
    await expect(client.work(req({ failCode: 'NOT_FOUND' }), { tenant: 'acme', requestId: 'nf-1' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(starts.filter((s) => s.includes(':nf-1:'))).toEqual(['echo:nf-1:1']);
  });

  it('drops a job whose deadline passed while it waited, before compute', async () => {
    const js = bus.nc.jetstream();
    const inbox = `_INBOX.deadline-test`;
    const sub = bus.nc.subscribe(inbox, { max: 1 });
    const h = natsHeaders();
    h.set(Header.TENANT, 'acme');
    h.set(Header.REQUEST_ID, 'late-1');
    h.set(Header.DEADLINE, String(Date.now() - 10));
    h.set(Header.REPLY_TO, inbox);
    await js.publish('tessera.work.echo.v1.EchoService.Work', EchoServiceService.work.requestSerialize(req()), { headers: h });
    for await (const m of sub) expect(errorFromHeaders(m.headers)).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(starts.some((s) => s.includes('late-1'))).toBe(false);
  });

  it('terminates malformed jobs as poison with an error reply and keeps serving', async () => {
    const js = bus.nc.jetstream();
    const inbox = `_INBOX.poison-test`;
    const sub = bus.nc.subscribe(inbox, { max: 2 });
    const h = natsHeaders();
    h.set(Header.TENANT, 'acme');
    h.set(Header.REQUEST_ID, 'bad-proto');
    h.set(Header.REPLY_TO, inbox);
    await js.publish('tessera.work.echo.v1.EchoService.Work', Uint8Array.from([0x0a, 0xff, 0x01]), { headers: h });
    const h2 = natsHeaders();
    h2.set(Header.REQUEST_ID, 'no-tenant');
    h2.set(Header.REPLY_TO, inbox);
    await js.publish('tessera.work.echo.v1.EchoService.Work', EchoServiceService.work.requestSerialize(req()), { headers: h2 });
    const codes: string[] = [];
    for await (const m of sub) codes.push(errorFromHeaders(m.headers)!.code);
    expect(codes.sort()).toEqual(['INVALID_ARGUMENT', 'UNAUTHENTICATED']);
    await waitFor(() => advisories.some((a) => a.requestId === 'bad-proto') && advisories.some((a) => a.requestId === 'no-tenant'));
    expect(advisories.find((a) => a.requestId === 'bad-proto')).toMatchObject({ reason: 'bad_input', deliveries: 1 });
    await expect(client.work(req({ text: 'still here' }), { tenant: 'acme' })).resolves.toMatchObject({ text: 'still here' });
    // Nothing left in the queue: poison was terminated, not left for redelivery.
    const jsm = await bus.nc.jetstreamManager();
    await waitFor(async () => (await jsm.consumers.info('TESSERA_ECHO', 'echo-workers')).num_ack_pending === 0);
    // And it stays that way past the ack wait (2 s): a term()ed job is never redelivered.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(advisories.filter((a) => a.requestId === 'bad-proto')).toHaveLength(1);
  });

  it('stores a publish once per Nats-Msg-Id (de-duplication)', async () => {
    const js = bus.nc.jetstream();
    const h = () => {
      const x = natsHeaders();
      x.set(Header.TENANT, 'acme');
      x.set(Header.REQUEST_ID, 'dup-1');
      return x;
    };
    const body = EchoServiceService.work.requestSerialize(req());
    const a = await js.publish('tessera.work.echo.v1.EchoService.Work', body, { msgID: 'dup-1', headers: h() });
    const b = await js.publish('tessera.work.echo.v1.EchoService.Work', body, { msgID: 'dup-1', headers: h() });
    expect(a.duplicate).toBe(false);
    expect(b.duplicate).toBe(true);
    expect(b.seq).toBe(a.seq);
    await waitFor(() => starts.filter((s) => s.includes(':dup-1:')).length === 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(starts.filter((s) => s.includes(':dup-1:')).length).toBe(1);
  });

  it('takes a burst of queued jobs in one pull, as many as it has free slots', async () => {
    const stage = { stage: 'burst', methods: ['work'] as const };
    const burst = natsClient(bus.nc, EchoServiceService, { workQueue: stage });
    // Every pull request the worker makes (a plain subscriber sees them too).
    let pulls = 0;
    const watch = bus.nc.subscribe('$JS.API.CONSUMER.MSG.NEXT.TESSERA_BURST.>', { callback: () => pulls++ });
    const pullsAtStart: number[] = [];
    const answers = Array.from({ length: 8 }, (_, i) => burst.work(req({ text: `b${i}`, delayMs: 300 }), { tenant: 'acme', timeoutMs: 10_000 }));
    await waitFor(async () => (await (await bus.nc.jetstreamManager()).streams.info('TESSERA_BURST').catch(() => undefined))?.state.messages === 8);
    const worker = await bindNats(bus.nc, EchoServiceService, echoService({ onStart: () => pullsAtStart.push(pulls) }), { serviceName: 'echo', workQueue: { ...stage, concurrency: 8 } });
    try {
      expect((await Promise.all(answers)).map((a) => a.text)).toEqual(['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7']);
      // One pull per job would have made 8 before the last one started.
      expect(Math.max(...pullsAtStart)).toBeLessThanOrEqual(2);
    } finally {
      watch.unsubscribe();
      burst.close();
      await worker.stop(1000);
    }
  });
});
