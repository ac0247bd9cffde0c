/**
 * An incremental, byte-level matcher for compact JSON that satisfies a compiled schema.
 *
 * State is a set of threads (nondeterminism: `anyOf`, a number that may end or go on); a thread is an
 * immutable stack of frames, so stepping never mutates shared state and the token-trie walk can
 * branch from any state for free. Bytes ≥ 0x80 inside strings are accepted as they come (multi-byte
 * UTF-8 characters split across tokens are fine; the detokenizer reassembles them).
 *
 * Hot-path property the mask relies on: inside a string value, a plain byte (≥ 0x20, not `"` or `\`)
 * returns the very same thread object, so "free string" states are recognisable and stable.
 */
import type { ArraySpec, ObjectSpec, SchemaNode } from './schema.js';

type Frame =
  | { readonly t: 'done' }
  | { readonly t: 'val'; readonly node: SchemaNode }
  /** phase 0 after `{`, 1 after a key (expects `:`), 2 after a value, 3 after `,`, 4 inside a value. */
  | { readonly t: 'obj'; readonly spec: ObjectSpec; readonly seen: readonly string[]; readonly phase: 0 | 1 | 2 | 3 | 4; readonly pending?: SchemaNode }
  /** Inside a key; `text` holds its raw (escaped) bytes as latin1 code units. */
  | { readonly t: 'key'; readonly spec: ObjectSpec; readonly seen: readonly string[]; readonly text: string; readonly esc: number }
  /** phase 0 after `[`, 1 after a value, 2 after `,`, 3 inside a value. */
  | { readonly t: 'arr'; readonly spec: ArraySpec; readonly n: number; readonly phase: 0 | 1 | 2 | 3 }
  /** esc 0 plain, 1 after `\`, 2..5 = hex digits of `\uXXXX` still expected + 1. */
  | { readonly t: 'str'; readonly esc: number }
  | { readonly t: 'num'; readonly int: boolean; readonly ph: number }
  | { readonly t: 'lit'; readonly cands: readonly Uint8Array[]; readonly pos: number };

export interface Thread {
  readonly f: Frame;
  readonly up: Thread | null;
}

const DONE: Thread = { f: { t: 'done' }, up: null };
const STR0: Frame = { t: 'str', esc: 0 };
const ANY_OBJECT: ObjectSpec = { properties: new Map(), required: new Set(), additional: { kind: 'any' } };
const ANY_ARRAY: ArraySpec = { items: { kind: 'any' }, minItems: 0, maxItems: Number.MAX_SAFE_INTEGER };
const ALL_TYPES = new Set(['object', 'array', 'string', 'number', 'boolean', 'null'] as const);
const LIT_TRUE = [bytes('true')];
const LIT_FALSE = [bytes('false')];
const LIT_NULL = [bytes('null')];
const LITERAL_BYTES = new WeakMap<SchemaNode, Uint8Array[]>();
/** Keeps pathological `anyOf` fan-out bounded. */
const MAX_THREADS = 256;

// Byte constants.
const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a, LBRACE = 0x7b, RBRACE = 0x7d, LBRACKET = 0x5b, RBRACKET = 0x5d, MINUS = 0x2d, PLUS = 0x2b, DOT = 0x2e, ZERO = 0x30, NINE = 0x39;
const isDigit = (b: number): boolean => b >= ZERO && b <= NINE;
const isHex = (b: number): boolean => isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
const SIMPLE_ESCAPES = new Set([QUOTE, BACKSLASH, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);
/** A byte that leaves an unconstrained string in the same state. */
export const isPlainStringByte = (b: number): boolean => b >= 0x20 && b !== QUOTE && b !== BACKSLASH;

function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export function startThreads(root: SchemaNode): Thread[] {
  return [{ f: { t: 'val', node: root }, up: DONE }];
}

/** All threads after one more byte (empty = the byte is not allowed). */
export function step(threads: readonly Thread[], b: number): Thread[] {
  const out: Thread[] = [];
  for (const th of threads) {
    feed(th, b, out);
    if (out.length > MAX_THREADS) break;
  }
  return out;
}

/** The document may end here (only the end-of-sequence token may follow when nothing else can). */
export function canEnd(threads: readonly Thread[]): boolean {
  for (const th of threads) {
    if (th.f.t === 'done') return true;
    if (th.f.t === 'num' && numComplete(th.f.ph) && th.up?.f.t === 'done') return true;
  }
  return false;
}

/** Every thread sits inside a string value in its plain state (plain bytes change nothing). */
export function inFreeString(threads: readonly Thread[]): boolean {
  if (threads.length === 0) return false;
  for (const th of threads) if (th.f !== STR0) return false;
  return true;
}

function push(f: Frame, up: Thread | null, out: Thread[]): void {
  out.push({ f, up });
}

function feed(th: Thread, b: number, out: Thread[]): void {
  const f = th.f;
  switch (f.t) {
    case 'done':
      return;
    case 'val':
      return startValue(f.node, b, th.up!, out);
    case 'str':
      if (f.esc === 0) {
        if (b === QUOTE) return valueDone(th.up!, out);
        if (b === BACKSLASH) return push({ t: 'str', esc: 1 }, th.up, out);
        if (b < 0x20) return;
        return void out.push(th);
      }
      if (f.esc === 1) {
        if (SIMPLE_ESCAPES.has(b)) return push(STR0, th.up, out);
        if (b === 0x75) return push({ t: 'str', esc: 5 }, th.up, out);
        return;
      }
      if (!isHex(b)) return;
      return push(f.esc === 2 ? STR0 : { t: 'str', esc: f.esc - 1 }, th.up, out);
    case 'key':
      return feedKey(f, th.up!, b, out);
    case 'obj':
      return feedObject(f, th.up!, b, out);
    case 'arr':
      return feedArray(f, th.up!, b, out);
    case 'num':
      return feedNumber(f, th, b, out);
    case 'lit': {
      const pos = f.pos + 1;
      const next = f.cands.filter((c) => c[f.pos] === b);
      if (next.some((c) => c.length === pos)) valueDone(th.up!, out);
      const longer = next.filter((c) => c.length > pos);
      if (longer.length > 0) push({ t: 'lit', cands: longer, pos }, th.up, out);
      return;
    }
  }
}

function startValue(node: SchemaNode, b: number, up: Thread, out: Thread[]): void {
  switch (node.kind) {
    case 'never':
      return;
    case 'ref':
      return startValue(node.resolve(), b, up, out);
    case 'anyOf':
      for (const o of node.options) startValue(o, b, up, out);
      return;
    case 'literals': {
      let cands = LITERAL_BYTES.get(node);
      if (!cands) LITERAL_BYTES.set(node, (cands = node.values.map(bytes)));
      return feed({ f: { t: 'lit', cands, pos: 0 }, up }, b, out);
    }
    case 'any':
    case 'typed': {
      const types: ReadonlySet<string> = node.kind === 'any' ? ALL_TYPES : node.types;
      const object = node.kind === 'any' ? ANY_OBJECT : node.object;
      const array = node.kind === 'any' ? ANY_ARRAY : node.array;
      if (b === LBRACE && types.has('object')) return push({ t: 'obj', spec: object, seen: [], phase: 0 }, up, out);
      if (b === LBRACKET && types.has('array')) return push({ t: 'arr', spec: array, n: 0, phase: 0 }, up, out);
      if (b === QUOTE && types.has('string')) return push(STR0, up, out);
      if ((b === MINUS || isDigit(b)) && (types.has('number') || types.has('integer'))) {
        return push({ t: 'num', int: !types.has('number'), ph: b === MINUS ? 0 : b === ZERO ? 1 : 2 }, up, out);
      }
      if (types.has('boolean') && (b === 0x74 || b === 0x66)) return push({ t: 'lit', cands: b === 0x74 ? LIT_TRUE : LIT_FALSE, pos: 1 }, up, out);
      if (types.has('null') && b === 0x6e) return push({ t: 'lit', cands: LIT_NULL, pos: 1 }, up, out);
      return;
    }
  }
}

/** The value on top of `up` just ended: move the enclosing container on. */
function valueDone(up: Thread, out: Thread[]): void {
  const f = up.f;
  if (f.t === 'done') return void out.push(up);
  if (f.t === 'obj') return push({ t: 'obj', spec: f.spec, seen: f.seen, phase: 2 }, up.up, out);
  if (f.t === 'arr') return push({ t: 'arr', spec: f.spec, n: f.n, phase: 1 }, up.up, out);
}

function mayAddKey(spec: ObjectSpec, seen: readonly string[]): boolean {
  if (spec.additional !== false) return true;
  for (const k of spec.properties.keys()) if (!seen.includes(k)) return true;
  return false;
}

function requiredMet(spec: ObjectSpec, seen: readonly string[]): boolean {
  for (const r of spec.required) if (!seen.includes(r)) return false;
  return true;
}

function feedObject(f: Extract<Frame, { t: 'obj' }>, up: Thread, b: number, out: Thread[]): void {
  const here: Thread = { f, up };
  switch (f.phase) {
    case 0:
      if (b === RBRACE && requiredMet(f.spec, f.seen)) return valueDone(up, out);
      if (b === QUOTE && mayAddKey(f.spec, f.seen)) return push({ t: 'key', spec: f.spec, seen: f.seen, text: '', esc: 0 }, here, out);
      return;
    case 1:
      if (b === COLON) return push({ t: 'val', node: f.pending! }, { f: { t: 'obj', spec: f.spec, seen: f.seen, phase: 4 }, up }, out);
      return;
    case 2:
      if (b === COMMA && mayAddKey(f.spec, f.seen)) return push({ t: 'obj', spec: f.spec, seen: f.seen, phase: 3 }, up, out);
      if (b === RBRACE && requiredMet(f.spec, f.seen)) return valueDone(up, out);
      return;
    case 3:
      if (b === QUOTE) return push({ t: 'key', spec: f.spec, seen: f.seen, text: '', esc: 0 }, here, out);
      return;
    default:
      return;
  }
}

const KEY_BYTES = new Map<string, string>();
/** A declared key (escaped JSON text) as latin1 code units of its UTF-8 bytes, as `key.text` holds it. */
function keyBytes(k: string): string {
  let v = KEY_BYTES.get(k);
  if (v === undefined) {
    v = Buffer.from(k, 'utf8').toString('latin1');
    if (KEY_BYTES.size < 100_000) KEY_BYTES.set(k, v);
  }
  return v;
}

function feedKey(f: Extract<Frame, { t: 'key' }>, objThread: Thread, b: number, out: Thread[]): void {
  const obj = objThread.f as Extract<Frame, { t: 'obj' }>;
  if (f.esc === 0 && b === QUOTE) {
    let key: string | undefined;
    let node: SchemaNode | undefined;
    for (const k of f.spec.properties.keys()) {
      if (keyBytes(k) === f.text) {
        key = k;
        node = f.spec.properties.get(k);
        break;
      }
    }
    if (key === undefined) {
      if (f.spec.additional === false) return;
      key = Buffer.from(f.text, 'latin1').toString('utf8');
      node = f.spec.additional;
    }
    if (f.seen.includes(key)) return; // a duplicate key
    return push({ t: 'obj', spec: obj.spec, seen: [...f.seen, key], phase: 1, pending: node }, objThread.up, out);
  }
  let esc = f.esc;
  if (esc === 0) {
    if (b < 0x20) return;
    if (b === BACKSLASH) esc = 1;
  } else if (esc === 1) {
    if (SIMPLE_ESCAPES.has(b)) esc = 0;
    else if (b === 0x75) esc = 5;
    else return;
  } else {
    if (!isHex(b)) return;
    esc = esc === 2 ? 0 : esc - 1;
  }
  const text = f.text + String.fromCharCode(b);
  if (f.spec.additional === false) {
    let prefixOfSome = false;
    for (const k of f.spec.properties.keys()) {
      if (!f.seen.includes(k) && keyBytes(k).startsWith(text)) {
        prefixOfSome = true;
        break;
      }
    }
    if (!prefixOfSome) return;
  }
  push({ t: 'key', spec: f.spec, seen: f.seen, text, esc }, objThread, out);
}

function feedArray(f: Extract<Frame, { t: 'arr' }>, up: Thread, b: number, out: Thread[]): void {
  switch (f.phase) {
    case 0:
      if (b === RBRACKET && f.spec.minItems === 0) return valueDone(up, out);
      if (f.spec.maxItems >= 1) startValue(f.spec.items, b, { f: { t: 'arr', spec: f.spec, n: 1, phase: 3 }, up }, out);
      return;
    case 1:
      if (b === COMMA && f.n < f.spec.maxItems) return push({ t: 'arr', spec: f.spec, n: f.n, phase: 2 }, up, out);
      if (b === RBRACKET && f.n >= f.spec.minItems) return valueDone(up, out);
      return;
    case 2:
      return startValue(f.spec.items, b, { f: { t: 'arr', spec: f.spec, n: f.n + 1, phase: 3 }, up }, out);
    default:
      return;
  }
}

/** Number phases: 0 after `-`, 1 a leading `0`, 2 integer digits, 3 after `.`, 4 fraction digits, 5 after `e`, 6 after its sign, 7 exponent digits. */
const numComplete = (ph: number): boolean => ph === 1 || ph === 2 || ph === 4 || ph === 7;

function feedNumber(f: Extract<Frame, { t: 'num' }>, th: Thread, b: number, out: Thread[]): void {
  let next = -1;
  const d = isDigit(b);
  switch (f.ph) {
    case 0: next = b === ZERO ? 1 : d ? 2 : -1; break;
    case 1: next = !f.int && b === DOT ? 3 : !f.int && (b === 0x65 || b === 0x45) ? 5 : -1; break;
    case 2: next = d ? 2 : !f.int && b === DOT ? 3 : !f.int && (b === 0x65 || b === 0x45) ? 5 : -1; break;
    case 3: next = d ? 4 : -1; break;
    case 4: next = d ? 4 : b === 0x65 || b === 0x45 ? 5 : -1; break;
    case 5: next = b === PLUS || b === MINUS ? 6 : d ? 7 : -1; break;
    case 6: next = d ? 7 : -1; break;
    case 7: next = d ? 7 : -1; break;
  }
  if (next >= 0) return push({ t: 'num', int: f.int, ph: next }, th.up, out);
  if (!numComplete(f.ph)) return;
  // The number ended before this byte: the enclosing container takes the byte.
  const after: Thread[] = [];
  valueDone(th.up!, after);
  for (const t of after) feed(t, b, out);
}
