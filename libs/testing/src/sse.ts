/**
 * Reads an OpenAI-style SSE stream (`data: {...}\n\n`, ending with `data: [DONE]`) into parsed
 * chunks. One reader for the e2e tests and the benches (bench/e2e, bench/edge), which each had a copy.
 * `onChunk` sees every chunk as it arrives (timing, fault injection).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function readSse(res: Response, onChunk?: (chunk: any) => void): Promise<{ chunks: any[]; done: boolean }> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const chunks: any[] = [];
  let buffer = '';
  let done = false;
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += Buffer.from(part).toString('utf8');
    let i;
    while ((i = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, i).replace(/^data: /, '');
      buffer = buffer.slice(i + 2);
      if (event === '[DONE]') {
        done = true;
        continue;
      }
      const chunk = JSON.parse(event);
      chunks.push(chunk);
      onChunk?.(chunk);
    }
  }
  return { chunks, done };
}
