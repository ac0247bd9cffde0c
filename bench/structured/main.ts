/**
 * Structured-output benchmark: `npx tsx bench/structured/main.ts` (bench preset; TESSERA_MODEL_DIR
 * overrides, BENCH_MODEL=tiny for the tiny checkpoint).
 *
 * Per-token cost of constrained decoding (the token mask from a JSON Schema, applied in the sampler)
 * against unconstrained decoding of the same prompts, 8 concurrent sequences (one batch), same run,
 * rounds interleaved (U C U C …) so machine load hits both alike. Two schemas:
 *  - `free text`: {"answer": string} — most steps sit inside the string (plain-token fast path);
 *  - `structural`: {"scores": [integer, …]} — every step is a number, comma or bracket, so a random
 *    model's own pick is almost always forbidden and the full mask is computed on every step
 *    (worst case: the decision is never the cheap `allows()` check).
 * Prints decode ms/token (engine per-token timings), the ratio to unconstrained, and the mask time
 * itself per masked step. Env: BENCH_TOKENS (default 32), BENCH_ROUNDS (default 3), TESSERA_INTRA_OP_THREADS (default 2).
 */
import { loadavg } from 'node:os';
import { ensurePresetModelPaths, ensureTinyModel } from '@tessera/model';
import { Engine, assemblePrompt, constraintFor, loadDecoderModel, samplingParams, type EngineChunk, type EngineRequest } from '@tessera/decoder';

const TOKENS = Number(process.env.BENCH_TOKENS ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCH = 8;
const THREADS = Number(process.env.TESSERA_INTRA_OP_THREADS ?? 2);
const log = (s: string): void => console.log(s);

const dir = process.env.TESSERA_MODEL_DIR || (process.env.BENCH_MODEL === 'tiny' ? await ensureTinyModel() : (await ensurePresetModelPaths('bench')).model);
const m = await loadDecoderModel(dir, { intraOpNumThreads: THREADS });
const info = m.backend.info;
log(`model ${dir}: layers ${info.numLayers}, hidden ${info.hiddenSize}, vocab ${info.vocabSize}; batch ${BATCH}, ${TOKENS} tokens, ${ROUNDS} rounds, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);

const SCHEMAS: Record<string, unknown> = {
  'free text': { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false },
  structural: { type: 'object', properties: { scores: { type: 'array', items: { type: 'integer' } } }, required: ['scores'], additionalProperties: false },
};
const vocab = { tokenBytes: m.tokenizer.tokenBytes, vocabSize: info.vocabSize, eosTokenIds: info.eosTokenIds };
let t = performance.now();
constraintFor({ tools: [], toolChoice: '', responseFormat: { format: { $case: 'jsonObject', jsonObject: {} } } }, vocab);
log(`token index over the vocabulary (once per process): ${(performance.now() - t).toFixed(0)} ms`);

const prompt = (i: number): Int32Array =>
  assemblePrompt({ messages: [{ role: 'user', parts: [{ kind: 'text', text: `Request ${i}: rate these ${i + 3} lighthouses as JSON.` }] }], images: [] }, m.tokenizer, { hiddenSize: info.hiddenSize, queryNum: m.queryNum }, { maxImages: 0 }).tokenIds;

interface Run { msPerToken: number; tokens: number; maskCalls: number; maskMs: number }

async function run(schema: unknown | undefined, round: number): Promise<Run> {
  const engine = new Engine({ backend: m.backend, tokenBytes: m.tokenizer.tokenBytes, limits: { maxBatchSize: BATCH, prefixCaching: false } });
  let maskCalls = 0;
  let maskMs = 0;
  const results = await Promise.all(
    Array.from({ length: BATCH }, async (_, i) => {
      const req: EngineRequest = { requestId: `s${round}-${i}-${schema ? 'c' : 'u'}`, tenant: `t${i % 4}`, promptTokenIds: prompt(i), params: samplingParams({ maxTokens: TOKENS, ignoreEos: schema === undefined }) };
      if (schema) {
        const c = constraintFor({ tools: [], toolChoice: '', responseFormat: { format: { $case: 'jsonSchema', jsonSchema: { name: 'b', schemaJson: JSON.stringify(schema), strict: true } } } }, vocab)!;
        const mask = c.mask.bind(c);
        c.mask = (logits) => {
          const t0 = performance.now();
          mask(logits);
          maskMs += performance.now() - t0;
          maskCalls++;
        };
        req.constraint = c;
      }
      let last: EngineChunk | undefined;
      for await (const ch of engine.submit(req).chunks) last = ch;
      return last!;
    }),
  );
  await engine.close();
  // Decode-phase time per token, averaged over sequences (each one's steps ran in the shared batch).
  const per = results.filter((r) => (r.usage?.completionTokens ?? 0) > 1).map((r) => r.timings!.perTokenS * 1000);
  return { msPerToken: per.reduce((a, b) => a + b, 0) / Math.max(1, per.length), tokens: results.reduce((n, r) => n + (r.usage?.completionTokens ?? 0), 0), maskCalls, maskMs };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
await run(undefined, -1); // warm-up: ORT sessions, JIT
for (const [name, schema] of Object.entries(SCHEMAS)) {
  const u: Run[] = [];
  const c: Run[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    u.push(await run(undefined, r));
    c.push(await run(schema, r));
  }
  const um = median(u.map((x) => x.msPerToken));
  const cm = median(c.map((x) => x.msPerToken));
  const calls = c.reduce((n, x) => n + x.maskCalls, 0);
  const tokens = c.reduce((n, x) => n + x.tokens, 0);
  const maskPer = c.reduce((n, x) => n + x.maskMs, 0) / Math.max(1, calls);
  log(`${name.padEnd(10)} unconstrained ${um.toFixed(2)} ms/token | constrained ${cm.toFixed(2)} ms/token | ratio ${(cm / um).toFixed(3)} (${((cm / um - 1) * 100).toFixed(1)} % overhead) | full masks on ${((100 * calls) / Math.max(1, tokens)).toFixed(0)} % of tokens, ${maskPer.toFixed(3)} ms each`);
}
log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
await m.model.release();
