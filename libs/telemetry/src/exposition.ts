/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for tests: promtool is not
 * installable on our machines (no apt or npm package), so exposition is checked by parsing it with
 * the format's rules and the invariants Prometheus relies on. Throws with the offending line.
 *
 * Checked: metric and label name syntax, label value escaping, one HELP/TYPE per family before its
 * samples, samples belong to a declared family with the suffixes its type allows, counters end in
 * `_total`, histogram buckets are cumulative (non-decreasing in `le`) with `+Inf` = `_count`.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SUFFIXES: Record<Family['type'], string[]> = { counter: ['', '_total', '_created'], gauge: [''], histogram: ['_bucket', '_sum', '_count', '_created'], summary: ['', '_sum', '_count', '_created'], untyped: [''] };

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${line}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name, ${where}`);
      const f = families.get(name) ?? { name, type: 'untyped' as const, help: '', samples: [] };
      if (f.samples.length > 0) throw new Error(`${kind} after samples, ${where}`);
      if (kind === 'TYPE') {
        if (!(rest in SUFFIXES)) throw new Error(`unknown type, ${where}`);
        f.type = rest as Family['type'];
      } else f.help = rest;
      families.set(name, f);
      return;
    }
    const s = parseSample(line, where);
    const family = [...families.values()].find((f) => SUFFIXES[f.type].some((suf) => s.name === f.name + suf));
    if (!family) throw new Error(`sample of an undeclared family, ${where}`);
    family.samples.push(s);
  });
  for (const f of families.values()) {
    if (f.type === 'counter' && f.samples.some((s) => !s.name.endsWith('_total') && !s.name.endsWith('_created'))) throw new Error(`counter ${f.name}: samples must end in _total`);
    if (f.type === 'histogram') checkHistogram(f);
  }
  return families;
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$/.exec(line);
  if (!m) throw new Error(`malformed sample, ${where}`);
  const labels: Record<string, string> = {};
  let rest = m[3] ?? '';
  while (rest.length > 0) {
    const l = /^([^=]+)="((?:[^"\\]|\\[\\"n])*)"(,|$)/.exec(rest);
    if (!l || !LABEL_NAME.test(l[1]!)) throw new Error(`malformed labels, ${where}`);
    if (l[1]! in labels) throw new Error(`duplicate label ${l[1]}, ${where}`);
    labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    rest = rest.slice(l[0].length);
  }
  const raw = m[4]!;
  const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? NaN : Number(raw);
  if (Number.isNaN(value) && raw !== 'NaN') throw new Error(`bad value, ${where}`);
  return { name: m[1]!, labels, value };
}

function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number }>();
  const keyOf = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
  for (const s of f.samples) {
    const k = keyOf(s.labels);
    const e = series.get(k) ?? { buckets: [] };
    if (s.name.endsWith('_bucket')) {
      if (s.labels.le === undefined) throw new Error(`${f.name}: bucket without le`);
      e.buckets.push([s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value]);
    } else if (s.name.endsWith('_count')) e.count = s.value;
    series.set(k, e);
  }
  for (const [k, e] of series) {
    const sorted = [...e.buckets].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) if (sorted[i]![1] < sorted[i - 1]![1]) throw new Error(`${f.name}${k}: buckets are not cumulative`);
    const inf = sorted.at(-1);
    if (!inf || inf[0] !== Infinity) throw new Error(`${f.name}${k}: no +Inf bucket`);
    if (inf[1] !== e.count) throw new Error(`${f.name}${k}: +Inf bucket ${inf[1]} != _count ${e.count}`);
  }
}
