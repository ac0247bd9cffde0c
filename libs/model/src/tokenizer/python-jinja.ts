/**
 * Python's `str()` for what a template prints. @huggingface/jinja writes JavaScript spellings where
 * Python's Jinja2 (what transformers and vLLM render chat templates with) writes Python ones:
 *
 *   template                  Jinja2 (Python)      @huggingface/jinja 0.5.11
 *   {{ flag }} (True)         True                 true
 *   {{ none }}                None                 (empty)
 *   {{ flag | string }}       True                 true
 *   {{ x | string }} (None)   None                 error "Cannot apply filter string to NullValue"
 *   {{ flag ~ '!' }}          True!                true!
 *   {{ [true, none, 'a'] }}   [True, None, 'a']    [true, null, "a"]
 *
 * and a different string is a different prompt: Qwen3.5-style templates print tool-call arguments
 * that are not strings with `| string`, so `{"unit": true}` in an assistant's call history became
 * `true` where the checkpoint was trained on (and vLLM renders) `True`. Rather than fork the library,
 * the parsed template is rewritten once: every printed expression, every `| string` and both sides
 * of every `~` go through `__tessera_py_str__`, a global that formats the runtime value as Python's
 * `str()` does. The value is passed inside a one-element list literal so the function sees the
 * runtime value itself (the library hands functions unwrapped JS values, and 2.0 and 2 would both
 * arrive as the number 2). `| tojson` keeps JSON spellings, as in Python.
 */
import type { Template } from '@huggingface/jinja';

export const PY_STR = '__tessera_py_str__';

type Node = { type: string; [key: string]: unknown };
/** A runtime value as the library hands it over: its class name in `type`, the JS value in `value`. */
type Runtime = { type: string; value: unknown; toString(): string };

/** Statements whose result is not printed as a value (they render their own bodies or nothing). */
const NOT_PRINTED = new Set(['Set', 'If', 'For', 'Macro', 'Comment', 'Break', 'Continue', 'CallStatement', 'FilterStatement', 'StringLiteral']);
/** Fields that hold a list of statements (a template body), not expressions. */
const BODIES = new Set(['body', 'alternate', 'defaultBlock']);

const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && typeof (v as Node).type === 'string';
const call = (arg: Node): Node => ({ type: 'CallExpression', callee: { type: 'Identifier', value: PY_STR }, args: [{ type: 'ArrayLiteral', value: [arg] }] });

/** Rewrites a parsed template in place (see the file comment); returns it. */
export function pythonizeTemplate<T extends Template>(t: T): T {
  t.parsed.body = rewriteBody(t.parsed.body as unknown as Node[]) as unknown as typeof t.parsed.body;
  return t;
}

function rewriteBody(statements: Node[]): Node[] {
  return statements.map((s) => {
    const r = rewrite(s);
    return NOT_PRINTED.has(r.type) ? r : call(r);
  });
}

function rewrite(node: Node): Node {
  for (const [key, v] of Object.entries(node)) {
    if (Array.isArray(v)) node[key] = BODIES.has(key) ? rewriteBody(v as Node[]) : v.map((x) => (isNode(x) ? rewrite(x) : x));
    else if (isNode(v)) node[key] = rewrite(v);
    else if (v instanceof Map) node[key] = new Map([...v].map(([k, x]) => [isNode(k) ? rewrite(k) : k, isNode(x) ? rewrite(x) : x]));
  }
  if (node.type === 'FilterExpression' && isNode(node.filter) && node.filter.type === 'Identifier' && node.filter.value === 'string') return call(node.operand as Node);
  if (node.type === 'BinaryExpression' && (node.operator as { value?: string }).value === '~') {
    node.left = call(node.left as Node);
    node.right = call(node.right as Node);
  }
  return node;
}

/** The global the rewritten template calls: `__tessera_py_str__([value])` → Python's `str(value)`. */
export function pyStrGlobal(wrapped: unknown): string {
  return pyStr((wrapped as Runtime[])[0]!);
}

export function pyStr(v: Runtime): string {
  switch (v.type) {
    case 'StringValue':
      return v.value as string;
    case 'UndefinedValue':
      return '';
    default:
      return pyRepr(v);
  }
}

/** Python's `repr()`: what `str()` of a container shows for its items. */
function pyRepr(v: Runtime): string {
  switch (v.type) {
    case 'BooleanValue':
      return v.value ? 'True' : 'False';
    case 'NullValue':
      return 'None';
    case 'UndefinedValue':
      return '';
    case 'StringValue':
      return reprString(v.value as string);
    case 'ArrayValue':
      return `[${(v.value as Runtime[]).map(pyRepr).join(', ')}]`;
    case 'TupleValue': {
      const items = (v.value as Runtime[]).map(pyRepr);
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
    }
    case 'ObjectValue':
    case 'KeywordArgumentsValue':
      return reprDict(v.value as Map<string, Runtime>);
    case 'NamespaceValue':
      return `<Namespace ${reprDict(v.value as Map<string, Runtime>)}>`;
    default:
      // Integers and floats: the library already prints 2.0 for a float 2, as Python does.
      return v.toString();
  }
}

/** Python's repr of a dict: `{'k': v, …}`. */
function reprDict(m: Map<string, Runtime>): string {
  return `{${[...m.entries()].map(([k, x]) => `${reprString(k)}: ${pyRepr(x)}`).join(', ')}}`;
}

/** Characters Python's str.isprintable() rejects (other than the ones with a short escape). */
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's repr of a str: single quotes unless the text has ' and no ", escapes as CPython writes them. */
function reprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && NON_PRINTABLE.test(ch)) {
      const cp = ch.codePointAt(0)!;
      out += cp < 0x100 ? `\\x${hex(cp, 2)}` : cp < 0x10000 ? `\\u${hex(cp, 4)}` : `\\U${hex(cp, 8)}`;
    } else out += ch;
  }
  return out + quote;
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');
