import { describe, expect, it } from 'vitest';
import { IncrementalDetokenizer, byteLevelAlphabet, byteLevelTokenBytes, type TokenBytes } from './detokenizer.js';

/** Tokens as explicit byte strings, so a test can split characters wherever it wants. */
function table(pieces: number[][]): TokenBytes {
  return { bytesOf: (id) => Uint8Array.from(pieces[id] ?? []) };
}
const bytes = (s: string): number[] => [...new TextEncoder().encode(s)];

function run(pieces: number[][], stops: string[] = []): { deltas: string[]; stop?: string; tail: string } {
  const d = new IncrementalDetokenizer(table(pieces), stops);
  const deltas: string[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const step = d.push(i);
    deltas.push(step.text);
    if (step.stop) return { deltas, stop: step.stop, tail: '' };
  }
  return { deltas, tail: d.finish() };
}

describe('incremental detokenizer', () => {
  it('never emits half of a multi-byte character split across tokens', () => {
    const emoji = bytes('🙂'); // F0 9F 99 82
    const e = bytes('é'); // C3 A9
    const r = run([bytes('a'), [emoji[0]!], [emoji[1]!, emoji[2]!], [emoji[3]!, e[0]!], [e[1]!], bytes('!')]);
    expect(r.deltas).toEqual(['a', '', '', '🙂', 'é', '!']);
    for (const d of r.deltas) expect(d).not.toContain('\ufffd');
  });

  it('replaces invalid bytes and flushes an unfinished character at the end', () => {
    expect(run([[0xff], bytes('x')]).deltas.join('')).toBe('\ufffdx');
    const r = run([bytes('ok'), [0xe4, 0xbd]]); // "你" cut short
    expect(r.deltas.join('')).toBe('ok');
    expect(r.tail).toBe('\ufffd');
  });

  it('finds a stop string spanning token boundaries and cuts the output before it', () => {
    const r = run([bytes('Hello EN'), bytes('D'), bytes('OF'), bytes('TEXT more')], ['ENDOFTEXT']);
    expect(r.stop).toBe('ENDOFTEXT');
    expect(r.deltas.join('')).toBe('Hello ');
    expect(r.deltas[0]).toBe('Hello '); // "EN" is held back as a possible stop prefix
  });

  it('releases held text once a stop string can no longer match', () => {
    const r = run([bytes('a <'), bytes('/b'), bytes('x')], ['</s>']);
    expect(r.deltas).toEqual(['a ', '</b', 'x']);
    expect(r.stop).toBeUndefined();
  });

  it('matches a stop string that begins inside a multi-byte character split', () => {
    const k = bytes('é');
    const r = run([bytes('caf'), [k[0]!], [k[1]!, ...bytes('!!')]], ['é!']);
    expect(r.stop).toBe('é!');
    expect(r.deltas.join('')).toBe('caf');
  });

  it('maps byte-level BPE pieces back to bytes (Ġ = space, special tokens silent)', () => {
    const alpha = byteLevelAlphabet();
    expect(alpha[32]).toBe('Ġ');
    const e = bytes('é').map((b) => alpha[b]!).join('');
    const t = byteLevelTokenBytes([['Ġhi', 0], [e, 1]], [{ id: 2, content: '<|im_end|>', special: true }]);
    const d = new IncrementalDetokenizer(t);
    expect([d.push(0).text, d.push(1).text, d.push(2).text]).toEqual([' hi', 'é', '']);
  });
});
