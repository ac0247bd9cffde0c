/**
 * Printed values spelled as Python's Jinja2 spells them. Every expected string below is what
 * jinja2 3.1.6 (ImmutableSandboxedEnvironment, trim_blocks + lstrip_blocks, as transformers renders
 * chat templates) printed for the same template and variables; @huggingface/jinja alone prints
 * `true`, an empty string for None, and JSON for containers.
 */
import { describe, expect, it } from 'vitest';
import { ChatTemplate } from './chat-template.js';

const render = (template: string, extra: Record<string, unknown> = {}): string =>
  new ChatTemplate({ chat_template: template }).render([], { extra: { flag: true, x: null, args: { unit: true, n: null, city: 'Paris', k: 1.5 }, ...extra } });

describe('chat templates print values as Python Jinja2 does', () => {
  it('booleans and None, printed and through | string', () => {
    expect(render('{{ flag }}|{{ true }}|{{ false }}|{{ none }}|{{ missing }}')).toBe('True|True|False|None|');
    expect(render("{{ flag | string }}|{{ x | string }}|{{ flag ~ '!' }}|{{ none ~ '!' }}|{{ missing ~ '!' }}")).toBe('True|None|True!|None!|!');
  });

  it('containers as Python repr', () => {
    expect(render(`{{ [true, none, 1, 2.0, 'a', "it's", 'q"\\n'] }}|{{ {'a': false, 'b': [none]} }}|{{ (1, 2) }}`)).toBe(`[True, None, 1, 2.0, 'a', "it's", 'q"\\n']|{'a': False, 'b': [None]}|(1, 2)`);
  });

  it('tool-call arguments the Qwen3.5 way (`| string` for non-strings), sets, macros; tojson stays JSON', () => {
    expect(render('{% for k, v in args | items %}<{{ k }}={{ v | string if v is not string else v }}>{% endfor %}')).toBe('<unit=True><n=None><city=Paris><k=1.5>');
    expect(render("{% set s = 'x' ~ flag %}{{ s }}{% if flag %}{{ 3 / 2 }} {{ 4 / 2 }} {{ 7 // 2 }}{% endif %}{{ 1 == 1 }}")).toBe('xTrue1.5 2.0 3True');
    expect(render("{% macro m(v) %}[{{ v }}]{% endmacro %}{{ m(flag) }}{{ m(none) }}{{ '%s' }}")).toBe('[True][None]%s');
    expect(render('{{ args | tojson }}')).toBe('{"unit": true, "n": null, "city": "Paris", "k": 1.5}');
  });
});
