/**
 * An independent SentencePiece-Unigram encoder for tests: what HuggingFace `tokenizers` does with
 * an XLM-R-style tokenizer.json (NFKC, runs of spaces collapsed, Metaspace with a prepended "▁"
 * and a split before every "▁", Viterbi over piece log-probabilities per word, each character no
 * piece covers scored as <unk> at (lowest piece score − 10) and consecutive <unk>s fused into
 * one, then `<s> … </s>`; an empty text is `<s> </s>`). Written from the algorithm, not from @lenml/tokenizers, so the embedder's
 * tokenizer is checked against it rather than against itself.
 */

export interface UnigramSpec {
  /** [piece, log-probability] in id order (tokenizer.json `model.vocab`). */
  vocab: ReadonlyArray<readonly [string, number]>;
  unkId: number;
  bosId: number;
  eosId: number;
}

const META = '\u2581';

export function unigramEncode(spec: UnigramSpec, text: string): number[] {
  const idOf = new Map(spec.vocab.map(([p], i) => [p, i]));
  const minScore = Math.min(...spec.vocab.map(([, s]) => s));
  const unkScore = minScore - 10;
  const maxLen = Math.max(...spec.vocab.map(([p]) => Array.from(p).length));
  let norm = text.normalize('NFKC').replace(/ {2,}/g, ' ').replaceAll(' ', META);
  // An empty text has no word to prefix: `<s> </s>`.
  if (norm.length > 0 && !norm.startsWith(META)) norm = META + norm;
  const words = norm.split(new RegExp(`(?=${META})`)).filter((w) => w.length > 0);
  const out = [spec.bosId];
  for (const word of words) {
    const chars = Array.from(word);
    const n = chars.length;
    // best[j]: best score of chars[0, j); from[j]: [start, id] of the last piece on that path.
    const best = new Float64Array(n + 1).fill(Number.NEGATIVE_INFINITY);
    const from: Array<[number, number]> = new Array(n + 1);
    best[0] = 0;
    for (let i = 0; i < n; i++) {
      if (best[i] === Number.NEGATIVE_INFINITY) continue;
      let single = false;
      for (let len = 1; len <= Math.min(maxLen, n - i); len++) {
        const id = idOf.get(chars.slice(i, i + len).join(''));
        if (id === undefined || id === spec.unkId) continue;
        if (len === 1) single = true;
        const s = best[i]! + spec.vocab[id]![1];
        if (s > best[i + len]!) {
          best[i + len] = s;
          from[i + len] = [i, id];
        }
      }
      if (!single && best[i]! + unkScore > best[i + 1]!) {
        best[i + 1] = best[i]! + unkScore;
        from[i + 1] = [i, spec.unkId];
      }
    }
    const ids: number[] = [];
    for (let j = n; j > 0; j = from[j]![0]) ids.push(from[j]![1]);
    ids.reverse();
    for (const id of ids) if (!(id === spec.unkId && out[out.length - 1] === spec.unkId)) out.push(id);
  }
  out.push(spec.eosId);
  return out;
}
