/**
 * OpenAI's `n`: several choices for one prompt. Each choice is its own decoder generation (its own
 * decoder request id and seed) over one encoding of the prompt's images and one retrieval; the
 * transports write the choices' events as they arrive and answer once every choice has ended.
 * The rules both edges (HTTP, gRPC) and the orchestrator share live here.
 */
import type { ChatEvent, ChatUsage } from './chat-events.js';
import type { ValidChatRequest } from './openai/valid-request.js';

export type FinalEvent = Extract<ChatEvent, { kind: 'final' }>;

/** Choices the request asks for (ValidChatRequest.n; absent = 1). */
export function choiceCount(req: Pick<ValidChatRequest, 'n'>): number {
  return req.n ?? 1;
}

/**
 * The id choice `choice` is recorded under in feedback and generated under at the decoder: choice 0
 * is the response id itself (so n = 1 is what it always was), choice i > 0 is `<response id>-<i>`
 * (`chatcmpl-…-1`). Every choice's record holds the same prompt, so any two choices of one response
 * make a preference pair.
 */
export function choiceResponseId(responseId: string, choice: number): string {
  return choice === 0 ? responseId : `${responseId}-${choice}`;
}

/**
 * A text-completion batch (`prompt: [p1, p2, …]`): prompt p is answered as its own request under
 * `<response id>-p<p>` (prompt 0 under the response id itself, so a batch of one is a plain request),
 * and its choice i is recorded under choiceResponseId of that id.
 */
export function promptResponseId(responseId: string, prompt: number): string {
  return prompt === 0 ? responseId : `${responseId}-p${prompt}`;
}

/** The id the answer's choice `index` is recorded under when each of its prompts has `perPrompt` choices. */
export function answerChoiceId(responseId: string, index: number, perPrompt: number): string {
  return choiceResponseId(promptResponseId(responseId, Math.floor(index / perPrompt)), index % perPrompt);
}

/**
 * vLLM's seed rule for `n`: with a request seed, choice i samples with seed + i, so each choice is
 * what a single request with that seed gives; without one, each choice draws its own.
 */
export function choiceSeed(requestSeed: number | undefined, choice: number, draw: () => number): number {
  return requestSeed === undefined ? draw() : requestSeed + choice;
}

/** The index an event belongs to (absent = choice 0). */
export function choiceOf(ev: ChatEvent): number {
  return ev.choice ?? 0;
}

/** Tokens a request reserves at admission: the prompt once and max_tokens for every choice. */
export function reservedTokens(promptTokens: number, req: Pick<ValidChatRequest, 'n' | 'sampling'>): number {
  return promptTokens + choiceCount(req) * req.sampling.maxTokens;
}

/** The finals of one request's choices, and what the request as a whole reports from them. */
export class ChoiceTally {
  private readonly finals: Array<FinalEvent | undefined>;
  private ended = 0;

  /** `perPrompt`: choices of each prompt (a text-completion batch answers several prompts; default: one prompt, all n). */
  constructor(
    readonly n: number,
    readonly perPrompt = n,
  ) {
    this.finals = new Array<FinalEvent | undefined>(n).fill(undefined);
  }

  /** The choice an event belongs to; an index outside 0..n-1, or an event after its choice ended, is a broken stream. */
  choiceOf(ev: ChatEvent): number {
    const i = choiceOf(ev);
    if (!(i >= 0 && i < this.n) || this.finals[i]) throw new Error(`the answer's choice ${i} does not exist or had already ended (n = ${this.n})`);
    return i;
  }

  /** Records a choice's final. */
  end(ev: FinalEvent): void {
    this.finals[this.choiceOf(ev)] = ev;
    this.ended++;
  }

  get done(): boolean {
    return this.ended === this.n;
  }

  /** Choice 0's final: its finish reason is the request's in the request-level metrics, its timings the top-level ones. */
  get first(): FinalEvent {
    return this.all()[0]!;
  }

  /** Every choice's final, by index (all must have ended). */
  all(): FinalEvent[] {
    if (!this.done) throw new Error(`the answer ended after ${this.ended} of ${this.n} choices`);
    return this.finals as FinalEvent[];
  }

  /**
   * OpenAI's usage for n choices: the prompt counted once (it was encoded once, and every choice's
   * decoder reports the same prompt; a batch: each of its prompts once), completion tokens summed over the choices. `cached_tokens` is
   * choice 0's as its decoder reported it: the other choices start together with it and may find
   * the prompt's blocks cached by it, which is the decoder sharing work, not the client's cache hit.
   */
  usage(): ChatUsage {
    const finals = this.all();
    // Each prompt once (a batch: every prompt's first choice), completions of every choice.
    const firsts = finals.filter((_, i) => i % this.perPrompt === 0).map((f) => f.usage);
    const sum = (of: (u: ChatUsage) => number) => firsts.reduce((n, u) => n + of(u), 0);
    return {
      promptTokens: sum((u) => u.promptTokens),
      visualTokens: sum((u) => u.visualTokens),
      completionTokens: finals.reduce((n, f) => n + f.usage.completionTokens, 0),
      ...(firsts.some((u) => u.cachedTokens !== undefined) && { cachedTokens: sum((u) => u.cachedTokens ?? 0) }),
    };
  }
}

/**
 * The items of several streams in the order they arrive (each stream's own order kept), each stream
 * asked for its next item once the consumer has taken the previous one. A stream that throws ends the
 * whole with its error; neither that nor a consumer that stops early cancels the other streams'
 * producers — the caller does, through the abort signal they share.
 */
export async function* interleave<T>(streams: ReadonlyArray<AsyncIterable<T>>): AsyncGenerator<T> {
  const iterators = streams.map((s) => s[Symbol.asyncIterator]());
  type Settled = { index: number; result: IteratorResult<T> } | { index: number; error: unknown };
  // Settled pulls in the order they settled: Promise.race over the pending ones would favour the
  // first stream whenever several are ready, and a fast choice 0 would hold the others back.
  const arrived: Settled[] = [];
  let wake: (() => void) | undefined;
  const settle = (s: Settled) => {
    arrived.push(s);
    wake?.();
    wake = undefined;
  };
  const pull = (index: number) =>
    void iterators[index]!.next().then(
      (result) => settle({ index, result }),
      (error: unknown) => settle({ index, error }),
    );
  const running = new Set(iterators.keys());
  running.forEach(pull);
  try {
    while (running.size > 0) {
      if (arrived.length === 0) await new Promise<void>((r) => (wake = r));
      const s = arrived.shift()!;
      if ('error' in s) {
        running.delete(s.index);
        throw s.error;
      }
      if (s.result.done) {
        running.delete(s.index);
        continue;
      }
      yield s.result.value;
      pull(s.index);
    }
  } finally {
    // The streams still running end once their producers see the shared abort; nothing waits for them.
    for (const index of running) iterators[index]!.return?.()?.catch(() => {});
  }
}
