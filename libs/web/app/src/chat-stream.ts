import { api, ApiError } from './api.js';

export interface ChatSource {
  id: string;
  score: number;
  relevance?: number;
  text: string;
  metadata?: Record<string, unknown>;
}

export interface ChatResult {
  responseId: string;
  text: string;
  finishReason: string | null;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number; prompt_tokens_details?: { image_tokens?: number } };
  timings?: Record<string, number>;
  sources: ChatSource[];
  /** True when the user pressed Stop. */
  stopped: boolean;
}

/**
 * Streams `POST /v1/chat/completions` (OpenAI SSE, `include_usage`). `onDelta` gets each piece of
 * text. An `{error}` event mid-stream, or the connection ending before `[DONE]` (the stack went
 * away), throws an ApiError that says so; the partial text is in `err.partial`.
 */
export async function streamChat(body: Record<string, unknown>, signal: AbortSignal, onDelta: (text: string, responseId: string) => void): Promise<ChatResult> {
  const result: ChatResult = { responseId: '', text: '', finishReason: null, sources: [], stopped: false };
  let res: Response;
  try {
    res = await api('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      signal,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') return { ...result, stopped: true };
    throw err;
  }
  result.responseId = res.headers.get('x-response-id') ?? '';
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let done = false;
  const fail = (message: string, status = 503) => Object.assign(new ApiError(message, status), { partial: result });
  try {
    while (!done) {
      const { value, done: eof } = await reader.read();
      if (eof) break;
      buffer += value;
      let i: number;
      while ((i = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, i).replace(/^data: ?/, '');
        buffer = buffer.slice(i + 2);
        if (event === '[DONE]') {
          done = true;
          break;
        }
        const chunk = JSON.parse(event);
        if (chunk.error) throw fail(`The answer stopped: ${chunk.error.message}`);
        if (chunk.id) result.responseId ||= chunk.id;
        const choice = chunk.choices?.[0];
        const text: string | undefined = choice?.delta?.content;
        if (text) {
          result.text += text;
          onDelta(text, result.responseId);
        }
        if (choice?.finish_reason) result.finishReason = choice.finish_reason;
        if (chunk.usage) result.usage = chunk.usage;
        if (chunk.tessera) {
          result.timings = chunk.tessera.timings_ms;
          result.sources = chunk.tessera.sources ?? [];
        }
      }
    }
  } catch (err) {
    if ((err as Error).name === 'AbortError' || signal.aborted) return { ...result, stopped: true };
    if (err instanceof ApiError) throw err;
    throw fail(`The connection to the gateway broke mid-answer (${(err as Error).message}); the partial answer is kept.`);
  }
  if (!done) {
    if (signal.aborted) return { ...result, stopped: true };
    throw fail('The gateway closed the stream before the answer finished (a service may have gone away); the partial answer is kept.');
  }
  return result;
}
