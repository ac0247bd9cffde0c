/**
 * The decoder on the tiny MiniCPM-V 4.6 model (hybrid graph: 3 Gated DeltaNet + 1 full-attention layer,
 * onnxruntime-node): prompts assembled through the checkpoint's own Jinja template with `<|image_pad|>`
 * expansion, greedy tokens through the engine (per-sequence state slots, prefill capped at the graph's
 * maxChunk of 16 tokens per row, 8 concurrent sequences, chunked prefill, preemption) equal a no-cache
 * reference that recomputes the whole sequence through the explicit-cache stage for every token; eos ids
 * and sampling defaults come from the checkpoint's generation_config.json.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmaxRow, ensureTinyModel46Paths, Tokenizer } from '@tessera/model';
import { commonV1, decodingV1 } from '@tessera/contracts';
import { localClient, TesseraError } from '@tessera/runtime';
import { decoderService } from './service.js';
import { AfterReasoning, constraintFor } from './domain/structured-output.js';
import { ToolCallStream } from '@tessera/structured';
import { Engine } from './domain/engine/engine.js';
import { samplingParams } from './domain/engine/engine-defaults.js';
import { resolveGenerationDefaults } from './domain/engine/generation-defaults.js';
import { collect } from './test/collect.js';
import { topLogprobs } from './domain/engine/sampler.js';
import type { SamplingParams, VisualInput } from './domain/engine/types.js';
import { loadDecoderModel, type LoadedDecoderModel } from './adapters/load-model.js';
import type { PromptImage } from './domain/prompt/prompt-types.js';

let m: LoadedDecoderModel;
let H: number;

beforeAll(async () => {
  m = await loadDecoderModel((await ensureTinyModel46Paths()).model, { intraOpNumThreads: 1, allowSpinning: false });
  H = m.backend.info.hiddenSize;
});
afterAll(async () => m?.model.release());

/** A 2×1-sliced image in 16x-style layout: overview 4 tokens, two slices of 2 (deterministic values). */
function image(seed: number): PromptImage {
  const tokensPerImage = [4, 2, 2];
  const n = 8;
  const tokens = Float32Array.from({ length: n * H }, (_, i) => 0.05 * Math.sin(seed * 13.7 + i * 0.31));
  return { tokens, shape: [n, H], gridCols: 2, gridRows: 1, useImageId: true, tokensPerImage };
}

const chat = (text: string, img?: PromptImage) =>
  m.assemble({ messages: [{ role: 'user', parts: img ? [{ kind: 'image', imageIndex: 0 }, { kind: 'text', text }] : [{ kind: 'text', text }] }], images: img ? [img] : [] }, { maxImages: 4 });

/** No cache at all: the whole sequence through the graph (maxChunk-token calls) for every new token. */
async function noCacheGreedy(ids: Int32Array, visual: VisualInput | undefined, n: number): Promise<number[]> {
  const seq = Array.from(ids);
  const out: number[] = [];
  const V = m.backend.info.vocabSize;
  for (let i = 0; i < n; i++) {
    const emb = await m.model.embed.run(Int32Array.from(seq), [1, seq.length]);
    if (visual) visual.positions.forEach((p, k) => emb.set(visual.embeddings.subarray(k * H, (k + 1) * H), p * H));
    const { logits } = await m.model.hybrid!.prefill({ inputsEmbeds: emb, batch: 1, seq: seq.length });
    const t = argmaxRow(logits, 0, V);
    out.push(t);
    seq.push(t);
  }
  return out;
}

const params = (p: Partial<SamplingParams>): SamplingParams => samplingParams({ ignoreEos: true, maxTokens: 6, ...p });

describe('decoder on the tiny 4.6 model', () => {
  it('prompt logprobs (image included) equal the log-softmax of a no-cache forward of each prefix, across 16-token graph calls', async () => {
    const p = chat('Describe this picture in a few words, please.', image(3));
    const engine = new Engine({ backend: m.backend, tokenBytes: m.tokenizer.tokenBytes });
    const got = await collect(engine.submit({ requestId: 'p', tenant: 't', promptTokenIds: p.tokenIds, visual: p.visual!, params: params({ maxTokens: 1 }), promptLogprobs: 2 }));
    const lp = got.chunks[0]!.promptLogprobs!;
    expect(p.tokenIds.length).toBeGreaterThan(16);
    expect(lp[0]).toBeNull();
    for (let i = 1; i < p.tokenIds.length; i++) {
      const emb = await m.model.embed.run(p.tokenIds.subarray(0, i), [1, i]);
      p.visual!.positions.forEach((pos, k) => pos < i && emb.set(p.visual!.embeddings.subarray(k * H, (k + 1) * H), pos * H));
      const { logits } = await m.model.hybrid!.prefill({ inputsEmbeds: emb, batch: 1, seq: i });
      const ref = topLogprobs(logits, p.tokenIds[i]!, 2);
      expect(lp[i]!.logprob, `token ${i}`).toBeCloseTo(ref.logprob, 4);
      expect(lp[i]!.top.map((t) => t.tokenId)).toEqual(ref.top.map((t) => t.tokenId));
    }
    await engine.close();
  });

  it('eos ids and sampling defaults come from generation_config.json', () => {
    expect(m.family.id).toBe('4.6');
    expect(m.queryNum).toBe(0);
    expect(m.backend.info.maxQueryLength).toBe(16); // manifest decoder.maxChunk
    expect(m.backend.info.stateBytesPerSequence).toBeGreaterThan(0);
    // generation_config eos_token_id [248046, 248044] = <|im_end|>, <|endoftext|>.
    expect([...m.backend.info.eosTokenIds].sort()).toEqual([248044, 248046]);
    const d = resolveGenerationDefaults('auto', m.generationConfig, { maxTokens: 512, temperature: 1 }, m.family.id);
    // temperature / top_p / top_k from the file; repetition_penalty unset there → neutral (not 2.6's 1.05).
    expect([d.temperature, d.topP, d.topK, d.repetitionPenalty]).toEqual([0.7, 0.8, 20, 1]);
  });

  it('prompt: the template renders, the image expands to <image_id>0</image_id><image>pads</image><slice>…', () => {
    const p = chat('What is this?', image(1));
    const tok = m.model.tokenizer;
    const text = tok.decode(p.tokenIds);
    expect(text).toBe(
      '<|im_start|>user\n<image_id>0</image_id><image>' + '<|image_pad|>'.repeat(4) + '</image><slice><|image_pad|><|image_pad|></slice><slice><|image_pad|><|image_pad|></slice>' +
        'What is this?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
    );
    expect(p.visualTokens).toBe(8);
    const pad = tok.addedTokenId('<|image_pad|>');
    expect(Array.from(p.visual!.positions)).toEqual(Array.from(p.tokenIds.entries()).filter(([, t]) => t === pad).map(([i]) => i));
  });

  it('greedy through the engine equals the no-cache reference: 8 concurrent sequences, a 100-token prompt, images, chunking and preemption', async () => {
    const prompts = [
      chat('Hi'),
      chat('What is in this picture?', image(1)),
      chat('Bonjour, ça va ?'),
      chat('word '.repeat(90)), // > 16 tokens: prefilled in ≤ 16-token steps even with a 512-token budget
      chat('1 2 3 4 5 6 7 8 9', image(2)),
      chat('你好，世界'),
      chat('A longer prompt about nothing in particular, with commas, and more words.'),
      chat('🙂'),
    ];
    expect(prompts[3]!.tokenIds.length).toBeGreaterThan(64);
    const expected: number[][] = [];
    for (const p of prompts) expected.push(await noCacheGreedy(p.tokenIds, p.visual, 6));
    const submit = (e: Engine, id: string, i: number) => collect(e.submit({ requestId: id, tenant: `t${i % 3}`, promptTokenIds: prompts[i]!.tokenIds, ...(prompts[i]!.visual && { visual: prompts[i]!.visual }), params: params({}) }));

    const engine = new Engine({ backend: m.backend, tokenBytes: m.tokenizer.tokenBytes, limits: { maxBatchSize: 8 } });
    const alone = await submit(engine, 'alone', 3);
    expect(alone.tokenIds).toEqual(expected[3]);
    const outs = await Promise.all(prompts.map((_, i) => submit(engine, `r${i}`, i)));
    outs.forEach((o, i) => expect(o.tokenIds, `prompt ${i}`).toEqual(expected[i]));
    expect(outs[1]!.last.usage!.visualTokens).toBe(8);
    expect(engine.stats().kvBlocksUsed).toBe(0);
    await engine.close();

    // Chunked prefill (8 tokens per step), state slots reused across sequences, and preemption + recompute
    // (a budget of 4 state slots + 6 blocks of 16 tokens cannot hold all prompts at once).
    const kv = m.backend.info.kvBytesPerToken;
    const tight = new Engine({
      backend: m.backend,
      tokenBytes: m.tokenizer.tokenBytes,
      limits: { maxBatchSize: 4, maxPrefillTokensPerStep: 8, kvBudgetBytes: 4 * m.backend.info.stateBytesPerSequence + 8 * 16 * kv },
    });
    const again = await Promise.all(prompts.map((_, i) => submit(tight, `g${i}`, i)));
    again.forEach((o, i) => expect(o.tokenIds, `tight ${i}`).toEqual(expected[i]));
    const st = tight.stats();
    expect(st.preemptions).toBeGreaterThan(0);
    expect(st.prefixCacheHits).toBe(0); // prefix caching is off for models with state
    expect(st.kvBlocksUsed).toBe(0);
    await tight.close();
  });

  it('tools: the template renders them and the calls of earlier turns; the model\'s Qwen3-Coder call text decodes with its tags and parses back', async () => {
    const tools = [{ name: 'get_weather', description: 'Weather for a city', parametersJson: '{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}}}' }];
    const history = [
      { role: 'user' as const, parts: [{ kind: 'text' as const, text: 'Weather in Paris?' }] },
      { role: 'assistant' as const, parts: [], toolCalls: [{ name: 'get_weather', argumentsJson: '{"city":"Paris","days":2}' }] },
      { role: 'tool' as const, parts: [{ kind: 'text' as const, text: '18 C' }] },
    ];
    const tok = Tokenizer.fromDir((await ensureTinyModel46Paths()).model);
    const built = m.assemble({ messages: history, tools, images: [] }, { maxImages: 4 });
    const rendered = tok.applyChatTemplate(
      [{ role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] }, { role: 'assistant', content: [], tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris', days: 2 } } }] }, { role: 'tool', content: [{ type: 'text', text: '18 C' }] }],
      { enableThinking: false, tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: JSON.parse(tools[0]!.parametersJson) } }] },
    );
    expect(Array.from(built.tokenIds)).toEqual(tok.encode(rendered));
    expect(rendered).toContain('<|im_start|>assistant\n<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=days>\n2\n</parameter>\n</function>\n</tool_call><|im_end|>');
    // tool_choice "none": the service passes no tools, so the section is absent (history still renders).
    const plain = m.assemble({ messages: history, tools: [], images: [] }, { maxImages: 4 });
    expect(plain.tokenIds.length).toBeLessThan(built.tokenIds.length - 40);
    // An answer in 4.6's format: <tool_call> and </tool_call> are single added tokens that are not
    // special, so the detokenised text keeps them and the gateway's parser finds the call.
    const answer = 'Let me check.\n\n<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>';
    const ids = tok.encode(answer);
    expect(ids).toContain(tok.addedTokenId('<tool_call>'));
    const text = new TextDecoder().decode(Buffer.concat(ids.map((id) => Buffer.from(m.tokenizer.tokenBytes.bytesOf(id)))));
    expect(text).toBe(answer);
    const parser = new ToolCallStream(new Set(['get_weather']));
    const pieces = [...ids.flatMap((id) => parser.push(new TextDecoder().decode(m.tokenizer.tokenBytes.bytesOf(id)))), ...parser.end()];
    expect(pieces.map((p) => (p.kind === 'content' ? p.text : '')).join('')).toBe('Let me check.\n\n');
    expect(pieces.filter((p) => p.kind === 'call')).toEqual([{ kind: 'call', call: { name: 'get_weather', argumentsJson: '{"city":"Oslo","days":3}' } }]);
  });

  it('per-request enable_thinking reaches the template; the first chunk says whether the output opens with reasoning', async () => {
    const tok = Tokenizer.fromDir((await ensureTinyModel46Paths()).model);
    const msgs = [{ role: 'user' as const, parts: [{ kind: 'text' as const, text: 'Hi <think>' }] }];
    const ids = (enableThinking?: boolean) => Array.from(m.assemble({ messages: msgs, images: [], ...(enableThinking !== undefined && { enableThinking }) }, { maxImages: 4 }).tokenIds);
    // The user's typed "<think>" stays text (not the tag), so only the template's tags count.
    expect(m.assemble({ messages: msgs, images: [], enableThinking: true }, { maxImages: 4 }).reasoning).toBe(true);
    expect(m.assemble({ messages: msgs, images: [], enableThinking: false }, { maxImages: 4 }).reasoning).toBe(false);
    expect(ids(false)).not.toEqual(ids(true));
    expect(tok.decode(ids(false)).endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
    expect(tok.decode(ids(true)).endsWith('<|im_start|>assistant\n')).toBe(true);
    expect(ids()).toEqual(ids(false)); // the process default (TESSERA_DECODER_ENABLE_THINKING) is false

    // Assistant prefill (continue_final_message) through the checkpoint's template: the closed chat
    // without its end-of-turn (`<|im_end|>`, "\n"); the output opens with reasoning only inside an open <think>.
    const prefill = (text: string, ending: 'closed' | 'continue-final', enableThinking = true) => m.assemble({ messages: [...msgs, { role: 'assistant', parts: [{ kind: 'text', text }] }], images: [], enableThinking, ending }, { maxImages: 4 });
    const closed = Array.from(prefill('The answer is', 'closed').tokenIds);
    expect(tok.decode(closed.slice(-2))).toBe('<|im_end|>\n');
    expect(Array.from(prefill('The answer is', 'continue-final').tokenIds)).toEqual(closed.slice(0, -2));
    expect(prefill('The answer is', 'continue-final').reasoning).toBe(false);
    expect(prefill('The answer is', 'closed').reasoning).toBe(false);
    expect(prefill('<think>\nLet me see', 'continue-final').reasoning).toBe(true);
    expect(tok.decode(Array.from(prefill('<think>\nLet me see', 'continue-final').tokenIds)).endsWith('<think>\nLet me see')).toBe(true);

    const engine = new Engine({ backend: m.backend, tokenBytes: m.tokenizer.tokenBytes, limits: { maxBatchSize: 2 } });
    const client = localClient(decodingV1.DecoderServiceService, decoderService({ engine, tokenizer: m.tokenizer, revision: m.revision, assemble: m.assemble, defaults: { maxTokens: 4, temperature: 0 }, maxImages: 4 }));
    const req = (o: Partial<decodingV1.GenerateRequest>): decodingV1.GenerateRequest => ({
      requestId: '', messages: [{ role: commonV1.Role.USER, parts: [{ part: { $case: 'text', text: 'Hi' } }] }], prompt: [], images: [], modelRevision: '', tools: [], toolChoice: '',
      sampling: { temperature: 0, topK: 0, minP: 0, presencePenalty: 0, frequencyPenalty: 0, stop: [], stopTokenIds: [], logprobs: false, topLogprobs: 0, maxTokens: 3 }, ...o,
    });
    const chunks = async (r: decodingV1.GenerateRequest) => {
      const out: decodingV1.GenerateResponse[] = [];
      for await (const c of client.generate(r, { tenant: 't' })) out.push(c);
      return out;
    };
    const on = await chunks(req({ enableThinking: true }));
    expect(on[0]!.reasoning).toBe(true);
    expect(on.slice(1).every((c) => !c.reasoning)).toBe(true);
    expect((await chunks(req({ enableThinking: false })))[0]!.reasoning).toBe(false);
    expect((await chunks(req({})))[0]!.reasoning).toBe(false);
    // Constrained output: thinking is off unless asked. Asked, the reasoning is free and the constraint
    // starts after `</think>` (vLLM's behaviour): the greedy reasoning is the unconstrained one token for
    // token, although its first token is one no JSON document starts with.
    const json = { format: { $case: 'jsonObject' as const, jsonObject: {} } };
    expect((await chunks(req({ responseFormat: json })))[0]!.reasoning).toBe(false);
    const eosErr = await chunks(req({ responseFormat: json, sampling: { ...req({}).sampling!, ignoreEos: true } })).then(() => undefined, (e: unknown) => e as TesseraError);
    expect(eosErr?.details.field).toBe('ignore_eos');
    const minErr = await chunks(req({ responseFormat: json, sampling: { ...req({}).sampling!, minTokens: 2 } })).then(() => undefined, (e: unknown) => e as TesseraError);
    expect(minErr?.details.field).toBe('min_tokens');
    const thought = await chunks(req({ enableThinking: true, responseFormat: json }));
    expect(thought[0]!.reasoning).toBe(true);
    const tokens = (cs: decodingV1.GenerateResponse[]) => cs.flatMap((c) => c.tokenIds);
    expect(tokens(thought)).toEqual(tokens(on));
    const vocab = { tokenBytes: m.tokenizer.tokenBytes, vocabSize: engine.info.vocabSize, eosTokenIds: engine.info.eosTokenIds };
    const jsonOnly = () => constraintFor({ responseFormat: json, tools: [], toolChoice: '' }, vocab)!;
    const free = tokens(on)[0]!;
    expect(jsonOnly().allows(free)).toBe(false);

    // The deferred constraint itself: free until `</think>`, then exactly the JSON constraint's choices.
    const thinkEnd = tok.addedTokenId('</think>')!;
    const brace = tok.encodePlain('{')[0]!;
    const deferred = new AfterReasoning(jsonOnly(), thinkEnd);
    const masked = (c: AfterReasoning) => {
      const logits = new Float32Array(engine.info.vocabSize);
      c.mask(logits);
      return logits;
    };
    expect(deferred.allows(free) && deferred.allows(thinkEnd)).toBe(true);
    expect(masked(deferred).every(Number.isFinite)).toBe(true);
    deferred.advance(free);
    deferred.advance(thinkEnd);
    expect([deferred.allows(free), deferred.allows(brace)]).toEqual([false, true]);
    expect([masked(deferred)[free], masked(deferred)[brace]]).toEqual([-Infinity, 0]);
    deferred.advance(brace);
    expect(deferred.allows(tok.encodePlain('}')[0]!)).toBe(true);
    await engine.close();
  });
});
