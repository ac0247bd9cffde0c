/**
 * Float64 Gated DeltaNet core, two ways (reference/minicpmv4x.md §4.3; HF
 * `torch_recurrent_gated_delta_rule` / `torch_chunk_gated_delta_rule`): the per-token recurrence, and
 * the chunked WY form the prefill graph uses. Inputs are per head, already prepared: q and k L2-normalised
 * (q also scaled by 1/√d_k), `g` = log-decay ≤ 0, `beta` = sigmoid(b). Layouts are [T, H, d] row-major,
 * state S [H, d_k, d_v]. The two must agree to rounding: the parity test checks it, and the ONNX graph
 * (chunked) is checked against the recurrent one.
 */
export interface GdnInputs {
  T: number;
  H: number;
  dk: number;
  dv: number;
  q: Float64Array;
  k: Float64Array;
  v: Float64Array;
  g: Float64Array;
  beta: Float64Array;
}

/** S ← e^g·S; S ← S + k ⊗ β(v − Sᵀk); o = Sᵀq — token by token. Mutates and returns `state`. */
export function gdnRecurrent(x: GdnInputs, state: Float64Array): { out: Float64Array; state: Float64Array } {
  const { T, H, dk, dv } = x;
  const out = new Float64Array(T * H * dv);
  const mem = new Float64Array(dv);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < H; h++) {
      const S = state.subarray(h * dk * dv, (h + 1) * dk * dv);
      const decay = Math.exp(x.g[t * H + h]);
      for (let i = 0; i < S.length; i++) S[i] *= decay;
      const ko = (t * H + h) * dk;
      const vo = (t * H + h) * dv;
      mem.fill(0);
      for (let a = 0; a < dk; a++) for (let b = 0; b < dv; b++) mem[b] += S[a * dv + b] * x.k[ko + a];
      const beta = x.beta[t * H + h];
      for (let a = 0; a < dk; a++) for (let b = 0; b < dv; b++) S[a * dv + b] += x.k[ko + a] * beta * (x.v[vo + b] - mem[b]);
      for (let b = 0; b < dv; b++) {
        let s = 0;
        for (let a = 0; a < dk; a++) s += S[a * dv + b] * x.q[ko + a];
        out[vo + b] = s;
      }
    }
  }
  return { out, state };
}

/**
 * Chunked form, chunk size C: within a chunk (cumulative log-decay γ), solve the unit lower-triangular
 * system (I + A)·U = Vβ with A = strictly-lower((Kβ Kᵀ) ∘ e^{γi−γj}) by forward substitution, then one
 * state read / write per chunk. Mutates and returns `state`.
 */
export function gdnChunked(x: GdnInputs, state: Float64Array, C: number): { out: Float64Array; state: Float64Array } {
  const { T, H, dk, dv } = x;
  const out = new Float64Array(T * H * dv);
  for (let h = 0; h < H; h++) {
    const S = state.subarray(h * dk * dv, (h + 1) * dk * dv);
    for (let c0 = 0; c0 < T; c0 += C) {
      const n = Math.min(C, T - c0);
      const at = (arr: Float64Array, d: number, i: number, e: number): number => arr[((c0 + i) * H + h) * d + e];
      const gam = new Float64Array(n);
      for (let i = 0, acc = 0; i < n; i++) gam[i] = acc += x.g[(c0 + i) * H + h];
      const beta = (i: number): number => x.beta[(c0 + i) * H + h];
      // U = (I + A)⁻¹ Vβ and W = (I + A)⁻¹ (Kβ ∘ e^γ), row by row (forward substitution).
      const U = new Float64Array(n * dv);
      const W = new Float64Array(n * dk);
      for (let i = 0; i < n; i++) {
        for (let e = 0; e < dv; e++) U[i * dv + e] = beta(i) * at(x.v, dv, i, e);
        for (let e = 0; e < dk; e++) W[i * dk + e] = beta(i) * at(x.k, dk, i, e) * Math.exp(gam[i]);
        for (let j = 0; j < i; j++) {
          let kk = 0;
          for (let e = 0; e < dk; e++) kk += at(x.k, dk, i, e) * at(x.k, dk, j, e);
          const a = beta(i) * kk * Math.exp(gam[i] - gam[j]);
          for (let e = 0; e < dv; e++) U[i * dv + e] -= a * U[j * dv + e];
          for (let e = 0; e < dk; e++) W[i * dk + e] -= a * W[j * dk + e];
        }
      }
      // Vn = U − W·S (the part of the new values the old state does not already predict).
      const Vn = new Float64Array(n * dv);
      for (let i = 0; i < n; i++) for (let e = 0; e < dv; e++) {
        let s = U[i * dv + e];
        for (let a = 0; a < dk; a++) s -= W[i * dk + a] * S[a * dv + e];
        Vn[i * dv + e] = s;
      }
      // O_i = e^{γi} q_i·S + Σ_{j≤i} (q_i·k_j) e^{γi−γj} Vn_j
      for (let i = 0; i < n; i++) {
        const oo = ((c0 + i) * H + h) * dv;
        for (let e = 0; e < dv; e++) {
          let s = 0;
          for (let a = 0; a < dk; a++) s += at(x.q, dk, i, a) * S[a * dv + e];
          out[oo + e] = Math.exp(gam[i]) * s;
        }
        for (let j = 0; j <= i; j++) {
          let qk = 0;
          for (let a = 0; a < dk; a++) qk += at(x.q, dk, i, a) * at(x.k, dk, j, a);
          const w = qk * Math.exp(gam[i] - gam[j]);
          for (let e = 0; e < dv; e++) out[oo + e] += w * Vn[j * dv + e];
        }
      }
      // S ← e^{γ_last} S + Σ_j e^{γ_last−γj} k_j ⊗ Vn_j
      const gl = gam[n - 1];
      for (let i = 0; i < S.length; i++) S[i] *= Math.exp(gl);
      for (let j = 0; j < n; j++) {
        const d = Math.exp(gl - gam[j]);
        for (let a = 0; a < dk; a++) {
          const ka = d * at(x.k, dk, j, a);
          for (let e = 0; e < dv; e++) S[a * dv + e] += ka * Vn[j * dv + e];
        }
      }
    }
  }
  return { out, state };
}
