import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChatEvent, ChatUsage, PromptScores, TokenLogprob } from '../domain/chat-events.js';
import { splitCompletionBatch, validateCompletionRequest } from '../domain/openai/validate-completion.js';
import type { ValidCompletionRequest } from '../domain/openai/valid-request.js';
import { choiceCount, type ChoiceTally } from '../domain/choices.js';
import { choiceExtension, collectEvents, finishReasonJson, handleGeneration, sendAnswer, sseData, streamEvents, usageJson, vllmPromptLogprobs, type ChatHandlerDeps, type GenerationEndpoint, type ResponseMeta } from './generation-handler.js';
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
  split: splitCompletionBatch,
  respondJson,
  streamSse,
};

/** One scored token as the legacy object lists it: a generated token, or a prompt token (the first has no logprob). */
type LegacyEntry = { token: string; logprob: number | null; top: ReadonlyArray<{ token: string; logprob: number }> };

/**
 * The legacy `logprobs` object: per token its text, its log probability, the `logprobs` most likely
 * alternatives plus the token itself (so up to k + 1 entries, as OpenAI documents) and where the token
 * starts in the returned text (in characters — Unicode code points, as vLLM and OpenAI count them with Python's
 * len(); a JavaScript string index differs after an astral character such as an emoji). With `echo` the prompt's
 * tokens come first, the first of them with null logprob and alternatives (nothing precedes it), as
 * OpenAI and vLLM return them. Streamed, the offsets continue across chunks.
 */
class LegacyLogprobs {
  private offset = 0;

  take(entries: readonly LegacyEntry[]) {
    const text_offset = entries.map((t) => {
      const at = this.offset;
      this.offset += codePoints(t.token);
      return at;
    });
    return {
      tokens: entries.map((t) => t.token),
      token_logprobs: entries.map((t) => t.logprob),
      top_logprobs: entries.map((t) => (t.logprob === null ? null : Object.fromEntries([...t.top.map((x) => [x.token, x.logprob] as const), [t.token, t.logprob] as const]))),
      text_offset,
    };
  }
}

/** What a choice returns before its generated text: the echoed prompt and, when asked, its scores. */
function promptPart(valid: ValidCompletionRequest, scores: PromptScores | undefined) {
  return {
    text: valid.echo ? (valid.prompt ?? scores?.text ?? '') : '',
    entries: valid.echo && valid.sampling.logprobs && scores ? scores.tokens : [],
    vllm: valid.returnPromptLogprobs && scores ? { prompt_logprobs: vllmPromptLogprobs(scores) } : {},
  };
}

/**
 * The answer's choices: n per prompt, prompt p's choice i at p·n + i (a batch: OpenAI's and vLLM's order),
 * and the prompt request each belongs to.
 */
function answerChoices(valid: ValidCompletionRequest) {
  const parts = splitCompletionBatch(valid);
  const perPrompt = choiceCount(valid);
  return { n: parts.length * perPrompt, perPrompt, partOf: (i: number) => parts[Math.floor(i / perPrompt)]! };
}

async function respondJson(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: ResponseMeta, valid: ValidCompletionRequest): Promise<ChoiceTally> {
  const { n, perPrompt, partOf } = answerChoices(valid);
  const texts = new Array<string>(n).fill('');
  const lps = Array.from({ length: n }, (): TokenLogprob[] => []);
  const scores = new Array<PromptScores | undefined>(n);
  const answered = await collectEvents(events, n, (ev, choice) => {
    if (ev.prompt) scores[choice] = ev.prompt;
    // `max_tokens: 0` with echo: the token the decoder computed is not part of the answer.
    if (valid.echoOnly) return;
    texts[choice] += ev.text;
    if (ev.logprobs) lps[choice]!.push(...ev.logprobs);
  }, perPrompt);
  const finals = answered.all();
  sendAnswer(res, meta, {
    id: meta.id,
    object: 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: texts.map((text, i) => {
      const before = promptPart(partOf(i), scores[i]);
      return {
        index: i,
        text: before.text + text,
        logprobs: valid.sampling.logprobs ? new LegacyLogprobs().take([...before.entries, ...lps[i]!]) : null,
        finish_reason: valid.echoOnly ? 'length' : finishReasonJson(finals[i]!.finishReason),
        ...before.vllm,
        ...choiceExtension(meta, i, n, perPrompt),
      };
    }),
    usage: usageJson(echoOnlyUsage(valid, answered.usage())),
    // The shared stages and choice 0's generation (n = 1: the only one).
    tessera: { timings_ms: answered.first.timings },
  });
  return answered;
}

/** `max_tokens: 0` with echo reports no completion tokens: none is returned. */
function echoOnlyUsage(valid: ValidCompletionRequest, u: ChatUsage): ChatUsage {
  return valid.echoOnly ? { ...u, completionTokens: 0 } : u;
}

/**
 * SSE as OpenAI and vLLM stream completions: `text_completion` chunks with one choice (its `index`;
 * with n > 1 the choices interleave as their tokens arrive) and the new `text` (the echoed prompt
 * first, once per choice, when asked: at once for a text prompt, with its scores when the prompt is scored
 * or given as token ids), per choice the chunk with its `finish_reason` (and our `tessera` timings; with
 * n > 1 the choice's `tessera.response_id`), then, after every choice ended and only with
 * `stream_options.include_usage`, a `choices: []` chunk with `usage`.
 */
function streamSse(res: ServerResponse, events: AsyncIterable<ChatEvent>, meta: ResponseMeta, valid: ValidCompletionRequest): Promise<ChoiceTally> {
  const { includeUsage } = valid;
  const { n, perPrompt, partOf } = answerChoices(valid);
  const base = { id: meta.id, object: 'text_completion', created: meta.created, model: meta.model };
  const chunk = (index: number, text: string, logprobs: unknown, finish: string | null, extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}) =>
    sseData({ ...base, choices: [{ index, text, logprobs, finish_reason: finish, ...extra }], ...(includeUsage && { usage: null }), ...top });
  // Offsets continue across chunks within a choice.
  const logprobs = valid.sampling.logprobs ? Array.from({ length: n }, () => new LegacyLogprobs()) : undefined;
  // A scored prompt is echoed with its scores, which come with the choice's first token.
  const echoAtOpen = valid.echo && valid.promptLogprobs === undefined;
  return streamEvents(res, events, meta, n, {
    open: () => {
      if (echoAtOpen) for (let i = 0; i < n; i++) res.write(chunk(i, partOf(i).prompt ?? '', null, null));
    },
    delta: (ev, i) => {
      if (ev.prompt && !echoAtOpen) {
        const before = promptPart(partOf(i), ev.prompt);
        const lp = logprobs && before.entries.length ? logprobs[i]!.take(before.entries) : null;
        if (before.text || lp || valid.returnPromptLogprobs) res.write(chunk(i, before.text, lp, null, before.vllm));
      }
      if (valid.echoOnly) return;
      const lp = logprobs && ev.logprobs?.length ? logprobs[i]!.take(ev.logprobs) : null;
      if (ev.text || lp) res.write(chunk(i, ev.text, lp, null));
    },
    choiceEnd: (ev, i) => {
      res.write(chunk(i, '', null, valid.echoOnly ? 'length' : finishReasonJson(ev.finishReason), choiceExtension(meta, i, n, perPrompt), { tessera: { timings_ms: ev.timings } }));
    },
    end: (answered) => {
      if (includeUsage) res.write(sseData({ ...base, choices: [], usage: usageJson(echoOnlyUsage(valid, answered.usage())) }));
    },
  }, perPrompt);
}

/** Characters of a string as Python counts them (code points; a surrogate pair is one). */
function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
