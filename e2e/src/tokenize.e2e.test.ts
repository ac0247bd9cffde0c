/**
 * vLLM's tokenizer endpoints on the real stack (decoder and gateway as processes, nats-server, the tiny
 * 2.6 and 4.5 checkpoints), driven the way lm-evaluation-harness's remote tokenizer drives them: the
 * tokenizer_info probe, `/tokenize` of a prompt giving exactly the ids the decoder counts as
 * `usage.prompt_tokens` on /v1/completions (as text, and sent back as token ids), a chat's `messages`
 * count equal to the same chat's `usage.prompt_tokens` (endings and thinking included), and
 * detokenize(tokenize(x)) = x for a multilingual string.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelIdFor, startLocalStack, tinyModelFor, writeApiKeysFile, type RunningStack } from '@tessera/local-stack';
import type { FamilyId } from '@tessera/model';

const KEY = 'sk-e2e-tokenize';
const stacks = new Map<FamilyId, RunningStack>();
const dirs: string[] = [];

/** A text-only stack of one family: decoder and gateway, nothing recorded. */
async function start(family: FamilyId): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `tessera-e2e-tokenize-${family.replace('.', '')}-`));
  dirs.push(dir);
  const keysFile = writeApiKeysFile(join(dir, 'keys.json'), [{ id: 'tok', tenant: 'tok', key: KEY }]);
  const stack = await startLocalStack({
    modelDir: await tinyModelFor(family),
    workDir: dir,
    services: ['decoder', 'gateway'],
    env: { TESSERA_INTRA_OP_THREADS: '1' },
    serviceEnv: { gateway: { TESSERA_GATEWAY_API_KEYS_FILE: keysFile, TESSERA_GATEWAY_MODEL_ID: modelIdFor(family), TESSERA_GATEWAY_RECORD_RESPONSES: 'false' } },
  });
  stacks.set(family, stack);
}

beforeAll(async () => {
  await start('2.6');
  await start('4.5');
}, 600_000);

afterAll(async () => {
  for (const s of stacks.values()) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function post(family: FamilyId, path: string, body: Record<string, unknown>): Promise<any> {
  const res = await fetch(`${stacks.get(family)!.httpUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  expect(res.status, JSON.stringify(json)).toBe(200);
  return json;
}

const promptTokensOf = async (family: FamilyId, path: string, body: Record<string, unknown>): Promise<number> =>
  (await post(family, path, { model: modelIdFor(family), max_tokens: 1, temperature: 0, ...body })).usage.prompt_tokens;

describe("vLLM's tokenizer endpoints on the real stack", () => {
  it("lm-eval's probe: tokenizer_info has eos_token and the chat template; /tokenize of 'test' answers tokens", async () => {
    const res = await fetch(`${stacks.get('2.6')!.httpUrl}/tokenizer_info`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ eos_token: '<|im_end|>', bos_token: '<|im_start|>', pad_token: '<|endoftext|>', chat_template: expect.stringContaining('<|im_start|>') });
    expect(await post('2.6', '/tokenize', { prompt: 'test', add_special_tokens: false })).toMatchObject({ count: 1, max_model_len: 8192, token_strs: null });
    // vLLM's model card says the same context.
    const models = (await (await fetch(`${stacks.get('2.6')!.httpUrl}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { data: Array<{ max_model_len: number }> };
    expect(models.data[0]!.max_model_len).toBe(8192);
  });

  it("/tokenize of a prompt gives exactly the ids the decoder counts as /v1/completions' usage.prompt_tokens, as text and sent back as ids", { timeout: 120_000 }, async () => {
    for (const family of ['2.6', '4.5'] as const) {
      for (const prompt of ['Once upon a time', 'Question: what is <|im_end|> and <image>?\nAnswer:', '  空白 与 emoji 🙂\t']) {
        const t = await post(family, '/tokenize', { model: modelIdFor(family), prompt });
        expect(await promptTokensOf(family, '/v1/completions', { prompt }), `${family} ${JSON.stringify(prompt)}`).toBe(t.count);
        // lm-eval sends the ids it got from /tokenize as the prompt.
        expect(await promptTokensOf(family, '/v1/completions', { prompt: t.tokens })).toBe(t.count);
      }
    }
  });

  it("a chat's messages count equals the same chat's usage.prompt_tokens (2.6 ChatML, 4.5 template; endings, thinking, tools)", { timeout: 180_000 }, async () => {
    const weather = { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
    const chats: Array<Record<string, unknown>> = [
      { messages: [{ role: 'user', content: 'Tell me about the sea. 你好' }] },
      { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi <|im_end|>' }, { role: 'assistant', content: 'Hello.' }, { role: 'user', content: 'And?' }] },
      { messages: [{ role: 'user', content: 'Say hi' }, { role: 'assistant', content: 'Hi, ' }], continue_final_message: true, add_generation_prompt: false },
      { messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weather] },
    ];
    for (const family of ['2.6', '4.5'] as const) {
      const variants = family === '4.5' ? [{}, { chat_template_kwargs: { enable_thinking: true } }] : [{}];
      for (const chat of chats) {
        for (const v of variants) {
          const body = { ...chat, ...v };
          const t = await post(family, '/tokenize', body);
          expect(t.count).toBe(t.tokens.length);
          expect(await promptTokensOf(family, '/v1/chat/completions', body), `${family} ${JSON.stringify(body)}`).toBe(t.count);
        }
      }
    }
  });

  it('detokenize(tokenize(x)) = x for a multilingual string', async () => {
    const text = 'Grüße aus Zürich — 你好，世界！ Привет, мир. مرحبا بالعالم 🙂👍 こんにちは\n\tend';
    for (const family of ['2.6', '4.5'] as const) {
      const { tokens } = await post(family, '/tokenize', { prompt: text });
      expect(await post(family, '/detokenize', { tokens })).toEqual({ prompt: text });
    }
  });
});
