/**
 * Chaos on a clustered JetStream (issue 20): a 3-node nats-server cluster on loopback (per-service
 * users, as the local stack runs), every stream and bucket created with replicas 3
 * (TESSERA_JETSTREAM_REPLICAS), decoder jobs through the TESSERA_DECODER work queue. Mid-load the node
 * leading that work stream is SIGKILLed. Every request either completes or fails cleanly (an HTTP
 * error with a JSON body, never a hang) and is retried until it completes; every answered response
 * and every feedback submitted on it is in the feedback service afterwards.
 * Text-only requests: the vision stages are not what a node loss tests, and booting them costs a minute.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'nats';
import { startLocalStack, type RunningStack } from '@tessera/local-stack';
import { ensureTinyModel } from '@tessera/model';

const KEY = 'sk-cluster';
const MODEL = 'minicpm-v-2_6';
const CLIENTS = 4;
const PER_CLIENT = 4;
let stack: RunningStack;
let dir: string;

const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
const post = (path: string, body: unknown) => fetch(`${stack.httpUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(90_000) });

beforeAll(async () => {
  const modelDir = await ensureTinyModel();
  dir = mkdtempSync(join(tmpdir(), 'tessera-cluster-'));
  const keysFile = join(dir, 'keys.json');
  writeFileSync(keysFile, JSON.stringify({ keys: [{ id: 'cluster', tenant: 'cluster', sha256: createHash('sha256').update(KEY).digest('hex') }] }));
  stack = await startLocalStack({
    modelDir,
    workDir: dir,
    natsCluster: 3,
    services: ['decoder', 'feedback', 'gateway'],
    env: { TESSERA_INTRA_OP_THREADS: '1', TESSERA_JETSTREAM_REPLICAS: '3', TESSERA_DECODER_WORK_QUEUE: 'true' },
    serviceEnv: { gateway: { TESSERA_GATEWAY_API_KEYS_FILE: keysFile, TESSERA_GATEWAY_MODEL_ID: MODEL } },
  });
}, 420_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('clustered JetStream', () => {
  it('creates the work stream, the feedback log and the buckets with 3 replicas', async () => {
    const nc = await connect({ servers: stack.natsUrl.split(','), ...stack.natsLogin });
    const jsm = await nc.jetstreamManager();
    for (const s of ['TESSERA_DECODER', 'TESSERA_FEEDBACK', 'KV_tessera-encoder-cache', 'OBJ_tessera-images']) {
      expect((await jsm.streams.info(s)).config.num_replicas, s).toBe(3);
    }
    await nc.close();
  });

  it('a node killed mid-load loses no request and no feedback record', { timeout: 300_000 }, async () => {
    const nc = await connect({ servers: stack.natsUrl.split(','), ...stack.natsLogin });
    const leader = (await (await nc.jetstreamManager()).streams.info('TESSERA_DECODER')).cluster?.leader;
    await nc.close();
    const victim = stack.natsCluster!.nodes.findIndex((_, i) => `tessera-${i}` === leader);
    expect(victim).toBeGreaterThanOrEqual(0);

    const answered: string[] = [];
    const failures: { status: number; body: string }[] = [];
    let killed = false;
    /** One logical request: retried after a clean failure (what a client does with a 503/504) until it is answered. */
    const ask = async (c: number, r: number): Promise<string> => {
      for (const until = Date.now() + 60_000; Date.now() < until; ) {
        const res = await post('/v1/chat/completions', { model: MODEL, seed: 3, max_tokens: 12, messages: [{ role: 'user', content: `client ${c} request ${r}` }] });
        const text = await res.text();
        if (res.status === 200) return (JSON.parse(text) as { id: string }).id;
        failures.push({ status: res.status, body: text });
        // A clean failure names itself: JSON error body with a message.
        expect((JSON.parse(text) as { error?: { message?: string } }).error?.message, text).toBeTruthy();
        await new Promise((res) => setTimeout(res, 500));
      }
      throw new Error(`client ${c} request ${r}: not answered within 60 s (${JSON.stringify(failures.slice(-3))})`);
    };
    const submit = async (responseId: string) => {
      for (const until = Date.now() + 60_000; Date.now() < until; ) {
        const res = await post('/v1/tessera/feedback', { feedback: { feedbackId: `fb-${responseId}`, responseId, rating: { key: 'overall', score: 1 } } });
        if (res.status === 200) return;
        await res.text();
        await new Promise((r) => setTimeout(r, 500)); // NOT_FOUND while the record is still on its way, or unavailable during the election
      }
      throw new Error(`feedback on ${responseId} not accepted within 60 s`);
    };
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        for (let r = 0; r < PER_CLIENT; r++) {
          const id = await ask(c, r);
          answered.push(id);
          await submit(id);
          if (!killed && answered.length === CLIENTS) {
            killed = true;
            stack.natsCluster!.nodes[victim]!.process.kill('SIGKILL');
          }
        }
      }),
    );
    expect(killed).toBe(true);
    expect(answered.length).toBe(CLIENTS * PER_CLIENT);
    // Every answered response is recorded with its feedback (the log is replicated; the projector catches up).
    for (const id of answered) {
      let got: { response?: { responseId?: string }; feedback?: unknown[] } = {};
      for (let i = 0; i < 120 && !(got.response && got.feedback?.length); i++) {
        const res = await fetch(`${stack.httpUrl}/v1/tessera/responses/${encodeURIComponent(id)}`, { headers });
        got = res.status === 200 ? ((await res.json()) as typeof got) : {};
        if (!(got.response && got.feedback?.length)) await new Promise((r) => setTimeout(r, 500));
      }
      expect(got.response?.responseId, id).toBe(id);
      expect(got.feedback?.length, id).toBe(1);
    }
    console.log(`cluster node loss: ${answered.length} requests answered, ${failures.length} clean failures retried (${[...new Set(failures.map((f) => f.status))].join(', ') || 'none'})`);
  });
});
