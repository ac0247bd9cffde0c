import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from './main.js';

/** Runs the CLI in-process and captures what it printed. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = vi.spyOn(console, 'log').mockImplementation(() => {});
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  const code = await main(argv);
  const text = (s: typeof out) => s.mock.calls.map((c) => c.join(' ')).join('\n');
  return { code, out: text(out), err: text(err) };
}
afterEach(() => vi.restoreAllMocks());

describe('tessera CLI: usage errors exit 2 with a usage message, never "internal error"', () => {
  it.each([['model'], ['slice-plan'], ['slice'], ['docs']])('%s --help prints its usage (exit 0)', async (cmd) => {
    const r = await cli(cmd, '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`tessera ${cmd}`);
    expect(r.out).toMatch(/usage/);
  });

  it('subcommand --help (tessera model build --help) prints the usage too', async () => {
    const r = await cli('model', 'build', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('tessera model build --checkpoint DIR');
  });

  it.each([
    ['slice', '--bogus'],
    ['slice-plan', '--width', '10', '--height', '10', '--frobnicate'],
    ['model', 'inspect', 'x', '--nope'],
    ['docs', 'add', 'c', 'f', '--what'],
  ])('unknown flag: %s … → exit 2, the flag named, the usage', async (...argv) => {
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Unknown option '--(bogus|frobnicate|nope|what)'/);
    expect(r.err).toContain('usage:');
    expect(r.err).not.toMatch(/internal/i);
  });

  it('bad values → exit 2 naming the field', async () => {
    const a = await cli('slice-plan', '--width', 'abc', '--height', '10');
    expect(a.code).toBe(2);
    expect(a.err).toContain('--width must be an integer');
    expect(a.err).toContain('tessera slice-plan --help');
    const b = await cli('slice-plan', '--width', '100', '--height', '10', '--max-slices', '0');
    expect(b.code).toBe(2);
    expect(b.err).toContain('max_slice_nums');
    const c = await cli('slice', 'photo.jpg');
    expect(c.code).toBe(2);
    expect(c.err).toContain('--out DIR is required');
  });

  it('a missing file → exit 1 "no such file", not an internal error', async () => {
    const r = await cli('slice', '/nonexistent/photo.jpg', '--out', '/tmp/tessera-cli-test-out');
    expect(r.code).toBe(1);
    expect(r.err).toBe('tessera slice: no such file or directory: /nonexistent/photo.jpg');
  });

  it('--version prints the version; an unknown command exits 2 with the command list', async () => {
    const v = await cli('--version');
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/^tessera \d+\.\d+\.\d+ \(node v\d+/);
    const u = await cli('frobnicate');
    expect(u.code).toBe(2);
    expect(u.err).toContain('unknown command "frobnicate"');
  });

  it('ctl keeps its own parsing: unknown flag → exit 2', async () => {
    const w = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const code = await main(['ctl', 'status', '--bogus']);
    expect(code).toBe(2);
    expect(w.mock.calls.map((c) => String(c[0])).join('')).toMatch(/bogus/);
  });
});
