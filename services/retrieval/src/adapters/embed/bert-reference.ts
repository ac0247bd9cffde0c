/**
 * A slow, obviously-correct float64 BERT / XLM-R forward + pooling over the generator's weights,
 * used by tests to check the ONNX graph and the embedder numerically. One unpadded sequence at a
 * time; XLM-R positions are pad_token_id + 1 + t (HF `create_position_ids_from_input_ids` on a
 * sequence without padding).
 */
import type { TinyBertConfig } from './tiny-bert.js';

type W = Map<string, { shape: number[]; data: Float32Array }>;

/**
 * erf to ~1e-14: Maclaurin series below |x| 3 (the largest term is ~170, so ≤ 3 digits are lost
 * to cancellation), the Laplace continued fraction for erfc above (60 levels, evaluated bottom-up).
 * An approximation like Abramowitz–Stegun 7.1.26 (1.5e-7) would eat into the 1e-5 parity budget.
 */
function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let t = a;
  for (let k = 60; k >= 1; k--) t = a + k / 2 / t;
  return Math.sign(x) * (1 - Math.exp(-a * a) / (Math.sqrt(Math.PI) * t));
}

export function referenceEmbedding(cfg: TinyBertConfig & { model_type?: string; pad_token_id?: number }, weights: W, ids: number[], pooling: 'mean' | 'cls'): Float64Array {
  const H = cfg.hidden_size;
  const roberta = cfg.model_type === 'xlm-roberta' || cfg.model_type === 'roberta';
  const position = (t: number) => (roberta ? (cfg.pad_token_id ?? 1) + 1 + t : t);
  const T = ids.length;
  const get = (n: string) => weights.get(n)!.data;
  const ln = (x: Float64Array[], p: string) =>
    x.map((row) => {
      const mean = row.reduce((a, b) => a + b, 0) / H;
      const v = row.reduce((a, b) => a + (b - mean) ** 2, 0) / H;
      const g = get(`${p}.weight`);
      const b = get(`${p}.bias`);
      return Float64Array.from(row, (r, i) => ((r - mean) / Math.sqrt(v + cfg.layer_norm_eps)) * g[i]! + b[i]!);
    });
  const linear = (x: Float64Array[], p: string) => {
    const w = weights.get(`${p}.weight`)!;
    const [out, inp] = w.shape as [number, number];
    const b = get(`${p}.bias`);
    return x.map((row) => {
      const o = new Float64Array(out);
      for (let j = 0; j < out; j++) {
        let s = b[j]!;
        for (let i = 0; i < inp; i++) s += row[i]! * w.data[j * inp + i]!;
        o[j] = s;
      }
      return o;
    });
  };
  let x = ids.map((id, t) => Float64Array.from({ length: H }, (_, h) => get('embeddings.word_embeddings.weight')[id * H + h]! + get('embeddings.position_embeddings.weight')[position(t) * H + h]! + get('embeddings.token_type_embeddings.weight')[h]!));
  x = ln(x, 'embeddings.LayerNorm');
  const heads = cfg.num_attention_heads;
  const dh = H / heads;
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `encoder.layer.${l}`;
    const q = linear(x, `${p}.attention.self.query`);
    const k = linear(x, `${p}.attention.self.key`);
    const v = linear(x, `${p}.attention.self.value`);
    const ctx = x.map(() => new Float64Array(H));
    for (let hd = 0; hd < heads; hd++) {
      for (let i = 0; i < T; i++) {
        const s = Array.from({ length: T }, (_, j) => {
          let d = 0;
          for (let c = 0; c < dh; c++) d += q[i]![hd * dh + c]! * k[j]![hd * dh + c]!;
          return d / Math.sqrt(dh);
        });
        const m = Math.max(...s);
        const e = s.map((z) => Math.exp(z - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j < T; j++) for (let c = 0; c < dh; c++) ctx[i]![hd * dh + c]! += (e[j]! / z) * v[j]![hd * dh + c]!;
      }
    }
    const attnOut = linear(ctx, `${p}.attention.output.dense`);
    const a = ln(attnOut.map((r, i) => r.map((val, h) => val + x[i]![h]!)), `${p}.attention.output.LayerNorm`);
    const inter = linear(a, `${p}.intermediate.dense`).map((r) => r.map((u) => 0.5 * u * (1 + erf(u / Math.SQRT2))));
    const o = linear(inter, `${p}.output.dense`);
    x = ln(o.map((r, i) => r.map((val, h) => val + a[i]![h]!)), `${p}.output.LayerNorm`);
  }
  const pooled = pooling === 'cls' ? Float64Array.from(x[0]!) : Float64Array.from({ length: H }, (_, h) => x.reduce((s, r) => s + r[h]!, 0) / T);
  const n = Math.sqrt(pooled.reduce((s, y) => s + y * y, 0));
  return pooled.map((y) => y / n);
}
