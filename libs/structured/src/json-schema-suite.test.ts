/**
 * The official JSON Schema Test Suite (draft 4, from the `json-schema-test-suite` npm package), on
 * the keywords constrained decoding supports: every test's instance, serialised as compact JSON, must
 * be accepted by the matcher exactly when the suite says it is valid. Groups whose schema uses a
 * keyword we do not support must be refused with INVALID_ARGUMENT naming that keyword.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TesseraError } from '@tessera/errors';
import { canEnd, startThreads, step } from './matcher.js';
import { compileSchema } from './schema.js';

const dir = join(dirname(createRequire(import.meta.url).resolve('json-schema-test-suite/package.json')), 'tests', 'draft4');
const SUPPORTED = ['default', 'type', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems', 'enum', 'anyOf', 'definitions', 'ref'];
/** Files whose every group uses keywords we refuse: each group must be a 400 naming one of them. */
const REFUSED: Record<string, string[]> = { pattern: ['pattern'], maxLength: ['maxLength'], minLength: ['minLength'], minimum: ['minimum'], maximum: ['maximum'], multipleOf: ['multipleOf'], oneOf: ['oneOf'], allOf: ['allOf'], not: ['not'], uniqueItems: ['uniqueItems'], patternProperties: ['patternProperties'], dependencies: ['dependencies'], minProperties: ['minProperties'], maxProperties: ['maxProperties'] };

interface Group { description: string; schema: unknown; tests: Array<{ description: string; data: unknown; valid: boolean }> }
const load = (name: string): Group[] => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Group[];

function accepts(schema: ReturnType<typeof compileSchema>, data: unknown): boolean {
  let threads = startThreads(schema);
  for (const b of Buffer.from(JSON.stringify(data), 'utf8')) {
    threads = step(threads, b);
    if (threads.length === 0) return false;
  }
  return canEnd(threads);
}

/**
 * Cases where the generator deliberately differs from the suite, each with the reason:
 *  - enum/const values are matched in their compact serialisation, so an object with the same
 *    members in another key order is refused.
 */
const KNOWN_DIFFERENCES = new Set<string>([]);

describe('JSON Schema Test Suite (draft 4), supported keywords', () => {
  let checked = 0;
  let refusedGroups = 0;
  for (const file of SUPPORTED) {
    for (const g of load(file)) {
      let compiled: ReturnType<typeof compileSchema> | undefined;
      try {
        compiled = compileSchema(g.schema, { field: 'schema' });
      } catch (err) {
        // A group that also uses an unsupported keyword (e.g. remote refs, tuple items): a clear 400.
        it(`${file}: ${g.description} → refused with a named keyword`, () => {
          expect(err).toBeInstanceOf(TesseraError);
          expect((err as TesseraError).code).toBe('INVALID_ARGUMENT');
          expect((err as TesseraError).details.field).toMatch(/^schema/);
        });
        refusedGroups++;
        continue;
      }
      for (const t of g.tests) {
        const name = `${file}: ${g.description} / ${t.description}`;
        if (KNOWN_DIFFERENCES.has(name)) continue;
        checked++;
        it(name, () => expect(accepts(compiled!, t.data)).toBe(t.valid));
      }
    }
  }
  it('covers a meaningful part of the suite', () => {
    expect(checked).toBeGreaterThan(90);
    expect(refusedGroups).toBeLessThan(15);
  });
});

describe('JSON Schema Test Suite (draft 4), refused keywords', () => {
  for (const [file, keywords] of Object.entries(REFUSED)) {
    it(`${file}: every group is refused naming ${keywords.join('/')}`, () => {
      for (const g of load(file)) {
        let err: unknown;
        try {
          compileSchema(g.schema, { field: 'response_format.json_schema.schema' });
        } catch (e) {
          err = e;
        }
        expect(err, g.description).toBeInstanceOf(TesseraError);
        expect((err as TesseraError).message).toMatch(/keyword "(\w+)"/);
        expect((err as TesseraError).details.field).toMatch(/^response_format\.json_schema\.schema/);
      }
    });
  }
});
