import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChatEvent, TokenLogprob } from '../domain/chat-events.js';
import { validateCompletionRequest } from '../domain/openai/validate-completion.js';
import type { ValidCompletionRequest } from '../domain/openai/valid-request.js';
import { collectEvents, finishReasonJson, handleGeneration, sendAnswer, sseData, streamEvents, usageJson, type ChatHandlerDeps, type FinalEvent, type GenerationEndpoint, type ResponseMeta } from './generation-handler.js';
import type { RequestInfo } from './server.js';

/**
 * `POST /v1/completions`, OpenAI's legacy text completions (as vLLM serves them): the shared
 * generation pipeline (generation-handler.ts: auth, quota, metrics, routing headers) with a raw
 * prompt in and `text_completion` objects out. The model's output is returned as it is written: no
 * tool-call parsing and no reasoning split, as a raw prompt has no chat template.
 */
export function handleCompletion(req: IncomingMessage, res: ServerResponse, deps: ChatHandlerDeps, info: RequestInfo): Promise<void> {
  return handleGeneration(req, res, deps, info, TEXT_COMPLETIONS);
}

const TEXT_COMPLETIONS: GenerationEndpoint<ValidCompletionRequest> = {
  route: '/v1/completions',
  idPrefix: 'cmpl',
  validate: (body, limits, deps) => validateCompletionRequest(body, limits, deps.models(), deps.whereModelsRun?.()),
  respondJson,
  streamSse,
};

/**
 * The legacy `logprobs` object: per generated token its text, its log probability, the `logprobs`
 * most likely alternatives plus the sampled token itself (so up to k + 1 entries, as OpenAI documents)
 * and where the token starts in the returned text (UTF-16 code units, JavaScript string offsets).
 * Streamed, the offsets continue across chunks.
 */
class LegacyLogprobs {
  private offset = 0;

  take(lps: readonly TokenLogprob[]) {
    const text_offset = lps.map((t) => {
      const at = this.offset;
      this.offset += t.token.length;
      return at;
    });
    return {
      tokens: lps.map((t) => t.token),
      token_logprobs: lps.map((t) => t.logprob),
      top_logprobs: lps.map((t) => Object.fromEntries([...t.top.map((x) => [x.token, x.logprob] as const), [t.token, t.logprob] as const])),
      text_offset,
    };
  }
}

async function respondJson(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: ResponseMeta, valid: ValidCompletionRequest): Promise<FinalEvent> {
  let text = valid.echo ? valid.prompt : '';
  const lps: TokenLogprob[] = [];
  const final = await collectEvents(events, (ev) => {
    text += ev.text;
    if (ev.logprobs) lps.push(...ev.logprobs);
  });
  sendAnswer(res, meta, {
    id: meta.id,
    object: 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, text, logprobs: valid.sampling.logprobs ? new LegacyLogprobs().take(lps) : null, finish_reason: finishReasonJson(final.finishReason) }],
    usage: usageJson(final.usage),
    tessera: { timings_ms: final.timings },
  });
  return final;
}

/**
 * SSE as OpenAI and vLLM stream completions: `text_completion` chunks with one choice and the new
 * `text` (the echoed prompt first, when asked), the chunk with `finish_reason` (and our `tessera`
 * timings), then, only with `stream_options.include_usage`, a `choices: []` chunk with `usage`.
 */
function streamSse(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: ResponseMeta, valid: ValidCompletionRequest): Promise<FinalEvent> {
  const { includeUsage } = valid;
  const base = { id: meta.id, object: 'text_completion', created: meta.created, model: meta.model };
  const chunk = (text: string, logprobs: unknown, finish: string | null, top: Record<string, unknown> = {}) =>
    sseData({ ...base, choices: [{ index: 0, text, logprobs, finish_reason: finish }], ...(includeUsage && { usage: null }), ...top });
  const logprobs = valid.sampling.logprobs ? new LegacyLogprobs() : undefined;
  return streamEvents(res, events, meta, {
    open: () => {
      if (valid.echo) res.write(chunk(valid.prompt, null, null));
    },
    delta: (ev) => {
      const lp = logprobs && ev.logprobs?.length ? logprobs.take(ev.logprobs) : null;
      if (ev.text || lp) res.write(chunk(ev.text, lp, null));
    },
    final: (ev) => {
      res.write(chunk('', null, finishReasonJson(ev.finishReason), { tessera: { timings_ms: ev.timings } }));
      if (includeUsage) res.write(sseData({ ...base, choices: [], usage: usageJson(ev.usage) }));
    },
  });
}
