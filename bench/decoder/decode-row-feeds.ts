/**
 * Feeds for one decode row of a paged decoder graph at context `ctx` (bench/decoder's op-level tools):
 * the row's `ceil(ctx / blockSize)` past blocks taken from the end of the pool, so a row never reads
 * blocks in allocation order by accident, plus the caller's pools.
 */
import * as ort from 'onnxruntime-node';

export function decodeRowFeeds(ctx: number, hidden: number, blocks: number, blockSize: number, pools: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  const n = Math.ceil(ctx / blockSize);
  return {
    inputs_embeds: new ort.Tensor('float32', new Float32Array(hidden).fill(0.01), [1, 1, hidden]),
    position_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(ctx)), [1, 1]),
    past_lengths: new ort.Tensor('int64', BigInt64Array.of(BigInt(ctx)), [1]),
    query_lengths: new ort.Tensor('int64', BigInt64Array.of(1n), [1]),
    block_tables: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, j) => BigInt(blocks - 1 - j)), [1, n]),
    ...pools,
  };
}
