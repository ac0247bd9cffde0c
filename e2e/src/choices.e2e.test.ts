/**
 * OpenAI's `n` on the real stack (decoder, feedback and gateway as processes, tiny checkpoint), driven
 * by the official `openai` SDK: n choices come back with indices 0..n-1, each exactly what a single
 * request with seed + i gives (vLLM's seed rule, so each choice really is its own seeded generation),
 * the stream reassembles to the same texts, usage counts the prompt once and the completions of every
 * choice, text completions do the same, and two choices of one response make a preference pair the
 * feedback service accepts and exports as a TRL DPO row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import type { RunningStack } from '@tessera/local-stack';
import { SDK_MODEL as MODEL, startSdkStack, submitFeedbackWhenRecorded } from './sdk-stack.js';

let stack: RunningStack;
let client: OpenAI;
let key: string;

beforeAll(async () => {
  // Text only: no vision stages.
  ({ stack, client, key } = await startSdkStack('choices', ['decoder', 'feedback', 'gateway']));
}, 420_000);

afterAll(async () => {
  await stack?.stop();
});

const SEED = 1000;
const chatParams = { model: MODEL, messages: [{ role: 'user' as const, content: 'Tell me something about the sea.' }], max_tokens: 8, temperature: 1, seed: SEED };

/** Our per-choice extension (services/gateway/README.md): the id that choice's feedback refers to. */
const feedbackIdOf = (choice: object): string => (choice as { tessera: { response_id: string } }).tessera.response_id;

describe("OpenAI's n through the official SDK", () => {
  it('chat: n = 3 with a seed gives choices 0..2, each what a single request with seed + i gives; streamed the same; usage = prompt once + every completion', { timeout: 180_000 }, async () => {
    const answer = await client.chat.completions.create({ ...chatParams, n: 3 });
    expect(answer.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    const texts = answer.choices.map((c) => c.message.content ?? '');
    expect(new Set(texts).size, 'three seeds at temperature 1 do not all agree').toBeGreaterThan(1);
    expect(answer.choices.map(feedbackIdOf)).toEqual([answer.id, `${answer.id}-1`, `${answer.id}-2`]);

    const singles = [];
    for (let i = 0; i < 3; i++) singles.push(await client.chat.completions.create({ ...chatParams, seed: SEED + i }));
    expect(texts).toEqual(singles.map((s) => s.choices[0]!.message.content));
    expect(answer.choices.map((c) => c.finish_reason)).toEqual(singles.map((s) => s.choices[0]!.finish_reason));
    expect(answer.usage).toMatchObject({ prompt_tokens: singles[0]!.usage!.prompt_tokens, completion_tokens: singles.reduce((n, s) => n + s.usage!.completion_tokens, 0) });
    expect(answer.usage!.total_tokens).toBe(answer.usage!.prompt_tokens + answer.usage!.completion_tokens);

    const stream = await client.chat.completions.create({ ...chatParams, n: 3, stream: true, stream_options: { include_usage: true } });
    const streamed = ['', '', ''];
    const finished: number[] = [];
    let usage: OpenAI.CompletionUsage | undefined;
    let usageBeforeEveryFinish = false;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        streamed[c.index] += c.delta.content ?? '';
        if (c.finish_reason) finished.push(c.index);
      }
      if (chunk.usage) {
        usage = chunk.usage;
        usageBeforeEveryFinish = finished.length < 3;
      }
    }
    expect(streamed).toEqual(texts);
    expect(finished.sort()).toEqual([0, 1, 2]);
    expect(usageBeforeEveryFinish).toBe(false);
    expect(usage).toMatchObject({ prompt_tokens: answer.usage!.prompt_tokens, completion_tokens: answer.usage!.completion_tokens });
  });

  it('completions: n = 2 with a seed, each choice what a single completion with seed + i gives, streamed the same', { timeout: 120_000 }, async () => {
    const params = { model: MODEL, prompt: 'Once upon a time', max_tokens: 6, temperature: 1, seed: SEED };
    const answer = await client.completions.create({ ...params, n: 2 });
    expect(answer.choices.map((c) => c.index)).toEqual([0, 1]);
    const singles = [await client.completions.create(params), await client.completions.create({ ...params, seed: SEED + 1 })];
    expect(answer.choices.map((c) => c.text)).toEqual(singles.map((s) => s.choices[0]!.text));
    expect(answer.usage).toMatchObject({ prompt_tokens: singles[0]!.usage!.prompt_tokens, completion_tokens: singles[0]!.usage!.completion_tokens + singles[1]!.usage!.completion_tokens });

    const streamed = ['', ''];
    for await (const chunk of await client.completions.create({ ...params, n: 2, stream: true })) for (const c of chunk.choices) streamed[c.index] += c.text;
    expect(streamed).toEqual(answer.choices.map((c) => c.text));
  });

  it('a preference between choice 1 and choice 0 of one response is accepted through the gateway and exported as a TRL DPO row', { timeout: 120_000 }, async () => {
    const answer = await client.chat.completions.create({ ...chatParams, messages: [{ role: 'user', content: 'Which answer is better?' }], n: 2, seed: 7 });
    const [rejected, chosen] = answer.choices.map(feedbackIdOf) as [string, string];
    const feedbackId = `pref-${answer.id}`;
    const res = await submitFeedbackWhenRecorded(stack, key, { feedbackId, responseId: chosen, preference: { chosenResponseId: chosen, rejectedResponseId: rejected } });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { record: { feedback: { preference: unknown } } }).record.feedback.preference).toEqual({ chosenResponseId: chosen, rejectedResponseId: rejected });

    const rows = (await (await fetch(`${stack.httpUrl}/v1/tessera/export?format=trl_dpo`, { headers: { authorization: `Bearer ${key}` } })).text())
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; prompt: unknown; chosen: unknown; rejected: unknown });
    const row = rows.find((r) => r.id === feedbackId);
    expect(row).toBeDefined();
    const assistant = (text: string | null) => [{ role: 'assistant', content: [{ type: 'text', text }] }];
    expect(row!.chosen).toEqual(assistant(answer.choices[1]!.message.content));
    expect(row!.rejected).toEqual(assistant(answer.choices[0]!.message.content));
    expect(JSON.stringify(row!.prompt)).toContain('Which answer is better?');
  });
});
