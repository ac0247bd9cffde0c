import { describe, expect, it } from 'vitest';
import { compileSchema } from './schema.js';
import { JsonConstraint } from './constraint.js';
import { TokenIndex } from './token-index.js';

/** A small byte-level vocabulary: every printable byte, some UTF-8 pieces and multi-byte JSON-ish tokens. */
const PIECES = [
  ...Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)),
  '\n', '\t', '{"', '":', '",', '"}', '"]', '":"', '","', '"},', 'true', 'false', 'null', 'name', 'age', 'tags', '\\"', '\\n', '\\u00', 'é', '日本', 'hello world', ' the', '12', '3.5', '-0', 'e+', '[]', '{}', '},{', '"}]}',
];
const EOS = PIECES.length;
const enc = new TextEncoder();
const table = [...PIECES.map((p) => enc.encode(p)), new Uint8Array(0)];
const source = { bytesOf: (id: number) => table[id] ?? new Uint8Array(0) };

/** xorshift32: a seeded walk through the allowed sets. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

function generate(schema: unknown, seed: number, maxSteps = 400): { text: string; ended: boolean; checks: number } {
  const index = new TokenIndex(source, table.length);
  const c = new JsonConstraint(compileSchema(schema, { field: 'schema' }), index, [EOS]);
  const rand = rng(seed);
  let text = '';
  let checks = 0;
  for (let i = 0; i < maxSteps; i++) {
    const allowed = [...c.allowedSet()].flatMap((v, id) => (v ? [id] : []));
    // The cheap check and the full mask (with its free-string fast path) must agree on every token.
    const disagree = table.map((_, id) => id).filter((id) => c.allows(id) !== allowed.includes(id));
    if (disagree.length > 0) expect.fail(`allows() and the mask disagree on ${disagree.map((id) => JSON.stringify(PIECES[id] ?? 'EOS')).join(', ')} after ${JSON.stringify(text)}`);
    checks++;
    if (allowed.length === 0) expect.fail(`dead end after ${JSON.stringify(text)}`);
    // Prefer ending once possible half the time, so documents finish.
    const id = allowed.includes(EOS) && rand() < 0.5 ? EOS : allowed[Math.floor(rand() * allowed.length)]!;
    c.advance(id);
    if (id === EOS) return { text, ended: true, checks };
    text += PIECES[id];
  }
  return { text, ended: false, checks };
}

describe('JsonConstraint over a vocabulary', () => {
  const person = {
    type: 'object',
    properties: { name: { type: 'string' }, age: { type: 'integer' }, tags: { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 3 }, nick: { anyOf: [{ type: 'string' }, { type: 'null' }] } },
    required: ['name', 'age'],
    additionalProperties: false,
  };

  it('only ever produces documents the schema accepts, and the fast paths agree with the full walk', () => {
    let finished = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const { text, ended } = generate(person, seed);
      if (!ended) continue;
      finished++;
      const v = JSON.parse(text) as Record<string, unknown>;
      expect(typeof v.name).toBe('string');
      expect(Number.isInteger(v.age)).toBe(true);
      expect(Object.keys(v).every((k) => k in person.properties)).toBe(true);
      if (v.tags !== undefined) expect((v.tags as string[]).every((t) => t === 'a' || t === 'b') && (v.tags as string[]).length <= 3).toBe(true);
      if (v.nick !== undefined) expect(v.nick === null || typeof v.nick === 'string').toBe(true);
    }
    expect(finished).toBeGreaterThan(3);
  });

  it('json_object: any object, nested values of every type', () => {
    for (let seed = 20; seed < 26; seed++) {
      const { text, ended } = generate({ type: 'object' }, seed, 300);
      if (ended) expect(typeof JSON.parse(text)).toBe('object');
      else expect(text.startsWith('{')).toBe(true);
    }
  });

  it('a boolean-only schema leaves exactly one path per value and then only end-of-sequence', () => {
    const index = new TokenIndex(source, table.length);
    const c = new JsonConstraint(compileSchema({ type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false }, { field: 's' }), index, [EOS]);
    for (const piece of ['{"', 'o', 'k', '":', 'true', '}']) {
      const id = PIECES.indexOf(piece);
      expect(c.allows(id), piece).toBe(true);
      expect(c.allows(EOS)).toBe(false);
      c.advance(id);
    }
    expect(c.complete).toBe(true);
    expect([...c.allowedSet()].flatMap((v, id) => (v ? [id] : []))).toEqual([EOS]);
  });
});
