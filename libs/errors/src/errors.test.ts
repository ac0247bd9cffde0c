import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode, GRPC_STATUS, TesseraError, checkModelRevision, invalidArgument, sha256Hex } from './index.js';

describe('@tessera/errors', () => {
  it('normalises anything thrown, keeping the cause out of the wire form', () => {
    const cause = new Error('disk on fire');
    const e = TesseraError.from(cause);
    expect(e.code).toBe(ErrorCode.INTERNAL);
    expect(e.cause).toBe(cause);
    expect(JSON.stringify(e)).not.toContain('disk on fire');
    const abort = Object.assign(new Error('x'), { name: 'AbortError' });
    expect(TesseraError.from(abort).code).toBe(ErrorCode.CANCELLED);
    const own = invalidArgument('max_tokens', 'max_tokens is 9000, limit 4096', 'max_tokens <= 4096');
    expect(TesseraError.from(own)).toBe(own);
    expect(own.toJSON()).toEqual({ code: 'INVALID_ARGUMENT', message: own.message, details: { field: 'max_tokens', limit: 'max_tokens <= 4096' } });
  });

  it('checks a model revision the same way for every stage: empty = any, else the loaded one', () => {
    expect(() => checkModelRevision('', 'abc', 'decoder')).not.toThrow();
    expect(() => checkModelRevision('abc', 'abc', 'decoder')).not.toThrow();
    expect(() => checkModelRevision('old', 'abc', 'resampler')).toThrow(expect.objectContaining({ code: 'FAILED_PRECONDITION', message: 'model_revision old is not the loaded resampler (abc)', details: { field: 'model_revision', limit: 'model_revision = abc' } }));
  });

  it('has a gRPC status for every code', () => {
    for (const code of Object.values(ErrorCode)) expect(GRPC_STATUS[code]).toBeGreaterThan(0);
  });

  it('hashes bytes and UTF-8 strings to the same sha256 hex (FIPS 180-2 "abc" vector)', () => {
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(sha256Hex('abc')).toBe(abc);
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe(abc);
    expect(sha256Hex('é')).toBe(sha256Hex(Uint8Array.of(0xc3, 0xa9)));
  });

  it('is a leaf: imports no other package (Node built-ins only)', () => {
    const dir = dirname(fileURLToPath(import.meta.url));
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts'))) {
      const imports = [...readFileSync(join(dir, f), 'utf8').matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]);
      expect(imports.filter((i) => !i.startsWith('./') && !i.startsWith('node:')), f).toEqual([]);
    }
  });
});
