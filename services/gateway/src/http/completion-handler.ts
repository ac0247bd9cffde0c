import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChatEvent, TokenLogprob } from '../domain/chat-events.js';
import { validateCompletionRequest } from '../domain/openai/validate-completion.js';
import type { ValidCompletionRequest } from '../domain/openai/valid-request.js';
import { choiceCount, type ChoiceTally } from '../domain/choices.js';
import { choiceExtension, collectEvents, finishReasonJson, handleGeneration, sendAnswer, sseData, streamEvents, usageJson, type ChatHandlerDeps, type GenerationEndpoint, type ResponseMeta } from './generation-handler.js';
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

async function respondJson(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: ResponseMeta, valid: ValidCompletionRequest): Promise<ChoiceTally> {
  const n = choiceCount(valid);
  const texts = new Array<string>(n).fill(valid.echo ? (valid.prompt ?? '') : '');
  const lps = Array.from({ length: n }, (): TokenLogprob[] => []);
  const answered = await collectEvents(events, n, (ev, choice) => {
    texts[choice] += ev.text;
    if (ev.logprobs) lps[choice]!.push(...ev.logprobs);
  });
  const finals = answered.all();
  sendAnswer(res, meta, {
    id: meta.id,
    object: 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: texts.map((text, i) => ({ index: i, text, logprobs: valid.sampling.logprobs ? new LegacyLogprobs().take(lps[i]!) : null, finish_reason: finishReasonJson(finals[i]!.finishReason), ...choiceExtension(meta, i, n) })),
    usage: usageJson(answered.usage()),
    // The shared stages and choice 0's generation (n = 1: the only one).
    tessera: { timings_ms: answered.first.timings },
  });
  return answered;
}

/**
 * SSE as OpenAI and vLLM stream completions: `text_completion` chunks with one choice (its `index`;
 * with n > 1 the choices interleave as their tokens arrive) and the new `text` (the echoed prompt
 * first, once per choice, when asked), per choice the chunk with its `finish_reason` (and our
 * `tessera` timings; with n > 1 the choice's `tessera.response_id`), then, after every choice ended
 * and only with `stream_options.include_usage`, a `choices: []` chunk with `usage`.
 */
function streamSse(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: ResponseMeta, valid: ValidCompletionRequest): Promise<ChoiceTally> {
  const { includeUsage } = valid;
  const n = choiceCount(valid);
  const base = { id: meta.id, object: 'text_completion', created: meta.created, model: meta.model };
  const chunk = (index: number, text: string, logprobs: unknown, finish: string | null, extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}) =>
    sseData({ ...base, choices: [{ index, text, logprobs, finish_reason: finish, ...extra }], ...(includeUsage && { usage: null }), ...top });
  // Offsets continue across chunks within a choice.
  const logprobs = valid.sampling.logprobs ? Array.from({ length: n }, () => new LegacyLogprobs()) : undefined;
  return streamEvents(res, events, meta, n, {
    open: () => {
      if (valid.echo) for (let i = 0; i < n; i++) res.write(chunk(i, valid.prompt ?? '', null, null));
    },
    delta: (ev, i) => {
      const lp = logprobs && ev.logprobs?.length ? logprobs[i]!.take(ev.logprobs) : null;
      if (ev.text || lp) res.write(chunk(i, ev.text, lp, null));
    },
    choiceEnd: (ev, i) => {
      res.write(chunk(i, '', null, finishReasonJson(ev.finishReason), choiceExtension(meta, i, n), { tessera: { timings_ms: ev.timings } }));
    },
    end: (answered) => {
      if (includeUsage) res.write(sseData({ ...base, choices: [], usage: usageJson(answered.usage()) }));
    },
  });
}
