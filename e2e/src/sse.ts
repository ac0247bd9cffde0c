/** Reads an OpenAI SSE stream into parsed chunks; stops at `[DONE]`. `onChunk` may abort early. */
export async function readSse(res: Response, onChunk?: (chunk: any) => void): Promise<{ chunks: any[]; done: boolean }> {
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

export const textOf = (chunks: any[]): string => chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
/** The finish_reason chunk (it carries our `tessera` extension) merged with the usage chunk, if any. */
export const finalOf = (chunks: any[]): any => {
  const usage = chunks.find((c) => c.usage)?.usage;
  return { ...(chunks.find((c) => c.tessera) ?? {}), ...(usage && { usage }) };
};
