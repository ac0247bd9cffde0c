/**
 * Four small graphs that keep a paged decoder's KV pools and state slots on the GPU (runtime/
 * device-pools.ts). With onnxruntime-node, JS cannot write into a GPU buffer: the only way to change
 * device memory is to run a graph. So what the CPU path does with `TypedArray.set` (store the new
 * tokens' K/V, copy a block, zero a state slot) is a ScatterND here:
 *  - init:  no inputs → every pool, zero-filled (ConstantOfShape), allocated on the device once;
 *  - write: pools + the step's new K/V and new state (still on the device) + two small index tensors
 *           → updated pools. Only the valid tokens are gathered (`rows`), so padding never lands;
 *  - copy:  pools + block `from` + index (h, to) → pools with block `to` = block `from` (copy-on-write
 *           of a shared partial prefix block);
 *  - reset: state pools + slot → pools with that slot zeroed (a sequence starting at token 0).
 * Pool dims other than the head layout are symbolic, so one graph serves every cache size.
 * Outputs are named `updated.<pool input name>`.
 */
import onnxPkg from 'onnx-proto';
import { GraphBuilder, type Dim } from './graph-builder.js';
import { PagedIo, type PagedCacheLayout } from './paged-decoder-io.js';
import { WeightSink } from './weight-sink.js';

const DT = onnxPkg.onnx.TensorProto.DataType;

export const updated = (pool: string): string => `updated.${pool}`;

export const PoolIo = {
  /** i64 [n]: flat b·T + t of each valid new token (write). */
  rows: 'rows',
  /** i64 [kv_heads, n, 3]: (head, block, offset) each valid token goes to (write). */
  kvIndex: 'kv_index',
  /** i64 [B, 1]: row b's state slot (write). */
  slots: 'slots',
  /** i64 [1]: the block copied (copy). */
  from: 'from',
  /** i64 [kv_heads, 1, 2]: (head, to) (copy). */
  toIndex: 'to_index',
  /** i64 [1, 1]: the state slot zeroed (reset). */
  slot: 'slot',
} as const;

/** Names of the KV pools in feed order (keys then values per attention layer). */
export function kvPoolNames(layout: PagedCacheLayout): string[] {
  return layout.attentionLayers.flatMap((l) => [PagedIo.keyCache(l), PagedIo.valueCache(l)]);
}

const kvDims = (layout: PagedCacheLayout, blocks: Dim, blockSize: Dim): Dim[] => [layout.kvHeads, blocks, blockSize, layout.headDim];
const builder = (name: string): GraphBuilder => new GraphBuilder(name, new WeightSink(null));

function zeros(g: GraphBuilder, dtype: 'float32' | 'float16', dims: number[]): string {
  const value = dtype === 'float32' ? { dataType: DT.FLOAT, dims: [1], rawData: new Uint8Array(4) } : { dataType: DT.FLOAT16, dims: [1], rawData: new Uint8Array(2) };
  return g.op('ConstantOfShape', [g.constI64(dims)], { value });
}

export function initPoolsGraph(layout: PagedCacheLayout, size: { numBlocks: number; blockSize: number; numStateSlots: number }): Uint8Array {
  const g = builder('init_pools');
  const kvType = deviceKvType(layout);
  for (const name of kvPoolNames(layout)) {
    const dims = kvDims(layout, size.numBlocks, size.blockSize) as number[];
    g.output(zeros(g, kvType, dims), name, kvType, dims);
  }
  for (const s of layout.states) {
    const dims = [size.numStateSlots, ...s.shape];
    g.output(zeros(g, 'float32', dims), s.input, 'float32', dims);
  }
  return g.toBytes('tessera: zero-filled KV pools and state slots');
}

export function writePoolsGraph(layout: PagedCacheLayout): Uint8Array {
  const g = builder('write_pools');
  const kvType = deviceKvType(layout);
  const { kvHeads: kv, headDim: hd } = layout;
  if (layout.attentionLayers.length) {
    const rows = g.input(PoolIo.rows, 'int64', ['n']);
    const index = g.input(PoolIo.kvIndex, 'int64', [kv, 'n', 3]);
    for (const l of layout.attentionLayers) {
      for (const [pool, fresh] of [
        [PagedIo.keyCache(l), PagedIo.newKey(l)],
        [PagedIo.valueCache(l), PagedIo.newValue(l)],
      ] as const) {
        g.input(pool, kvType, kvDims(layout, 'num_blocks', 'block_size'));
        g.input(fresh, kvType, [kv, 'B', 'T', hd]);
        const flat = g.op('Reshape', [fresh, g.constI64([kv, -1, hd])]);
        const tokens = g.op('Gather', [flat, rows], { axis: 1 });
        g.output(g.op('ScatterND', [pool, index, tokens]), updated(pool), kvType, kvDims(layout, 'num_blocks', 'block_size'));
      }
    }
  }
  if (layout.states.length) {
    const slots = g.input(PoolIo.slots, 'int64', ['B', 1]);
    for (const s of layout.states) {
      g.input(s.input, 'float32', ['num_slots', ...s.shape]);
      g.input(s.output, 'float32', ['B', ...s.shape]);
      g.output(g.op('ScatterND', [s.input, slots, s.output]), updated(s.input), 'float32', ['num_slots', ...s.shape]);
    }
  }
  return g.toBytes('tessera: store a step’s new K/V and state into the device pools');
}

export function copyBlockGraph(layout: PagedCacheLayout): Uint8Array {
  const g = builder('copy_block');
  const kvType = deviceKvType(layout);
  const from = g.input(PoolIo.from, 'int64', [1]);
  const to = g.input(PoolIo.toIndex, 'int64', [layout.kvHeads, 1, 2]);
  for (const pool of kvPoolNames(layout)) {
    g.input(pool, kvType, kvDims(layout, 'num_blocks', 'block_size'));
    const block = g.op('Gather', [pool, from], { axis: 1 });
    g.output(g.op('ScatterND', [pool, to, block]), updated(pool), kvType, kvDims(layout, 'num_blocks', 'block_size'));
  }
  return g.toBytes('tessera: copy one KV block in every pool');
}

export function resetSlotGraph(layout: PagedCacheLayout): Uint8Array {
  const g = builder('reset_slot');
  const slot = g.input(PoolIo.slot, 'int64', [1, 1]);
  for (const s of layout.states) {
    g.input(s.input, 'float32', ['num_slots', ...s.shape]);
    g.output(g.op('ScatterND', [s.input, slot, zeros(g, 'float32', [1, ...s.shape])]), updated(s.input), 'float32', ['num_slots', ...s.shape]);
  }
  return g.toBytes('tessera: zero one state slot');
}

/** KV element types the device path keeps (int8 pools carry per-token scales and stay on the host path). */
export function deviceKvType(layout: PagedCacheLayout): 'float32' | 'float16' {
  if (layout.kvDtype === 'int8') throw new Error('device-resident pools support float32 and float16 KV, not int8');
  return layout.kvDtype;
}
