import type { GenerationHandle } from '../domain/engine/engine.js';
import type { EngineChunk } from '../domain/engine/types.js';

export interface Collected {
  text: string;
  tokenIds: number[];
  chunks: EngineChunk[];
  last: EngineChunk;
}

export async function collect(h: GenerationHandle): Promise<Collected> {
  const chunks: EngineChunk[] = [];
  for await (const c of h.chunks) chunks.push(c);
  return {
    text: chunks.map((c) => c.text).join(''),
    tokenIds: chunks.flatMap((c) => c.tokenIds),
    chunks,
    last: chunks[chunks.length - 1]!,
  };
}
