/**
 * 4.6 prompt ids for a 1344×896 and a 4032×3024 image in both token modes, through the stand-in
 * tokenizer's own Jinja chat template, equal the rule of reference/minicpmv4x.md §5: `<image_id>0</image_id>`
 * `<image>` pads `</image>`, then rows of `<slice>` pads `</slice>` joined by "\n", with (H/56)·(W/56) pads
 * per crop in 16x and (H/28)·(W/28) in 4x (crop sizes from the 4.6 slice plan, counts recomputed here).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { familySliceOptions, planSlices, planTokens } from '@tessera/vision';
import { ensureTinyModel46Paths, loadTokenizer, type Tokenizer } from '../../index.js';
import { buildPromptIds46 } from './prompt46.js';

let tok: Tokenizer;
beforeAll(async () => {
  tok = loadTokenizer((await ensureTinyModel46Paths()).model);
});

describe('4.6 prompt ids', () => {
  for (const [w, h] of [[1344, 896], [4032, 3024]] as const) {
    for (const mode of ['16x', '4x'] as const) {
      it(`${w}×${h}, ${mode}`, () => {
        const plan = planSlices(w, h, familySliceOptions('4.6'));
        const unit = mode === '16x' ? 56 : 28;
        const crops = [plan.overview, ...plan.slices];
        const counts = crops.map((c) => (c.width / unit) * (c.height / unit));
        expect(planTokens(plan, '4.6', mode)).toEqual(counts);
        const grid = plan.grid ? { rows: plan.grid.rows, cols: plan.grid.cols } : null;
        const { ids, imagePadPositions } = buildPromptIds46(
          tok,
          [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is <|im_end|> here?' }] }],
          [{ tokensPerImage: counts, grid }],
          { enableThinking: false },
        );
        const s = tok.specialTokenIds;
        const c = (x: string): number => tok.addedTokenId(x)!;
        const expected: number[] = [s.imStart, ...tok.encodePlain('user\n'), c('<image_id>'), ...tok.encodePlain('0'), c('</image_id>'), c('<image>'), ...Array(counts[0]).fill(s.imagePad), c('</image>')];
        if (grid) {
          let k = 1;
          for (let r = 0; r < grid.rows; r++) {
            if (r > 0) expected.push(s.newline);
            for (let col = 0; col < grid.cols; col++) expected.push(c('<slice>'), ...Array(counts[k++]).fill(s.imagePad), c('</slice>'));
          }
        }
        expected.push(...tok.encodePlain('What is <|im_end|> here?'), s.imEnd, ...tok.encodePlain('\n'), s.imStart, ...tok.encodePlain('assistant\n'), c('<think>'), ...tok.encodePlain('\n\n'), c('</think>'), ...tok.encodePlain('\n\n'));
        expect(ids).toEqual(expected);
        expect(imagePadPositions.length).toBe(counts.reduce((a, b) => a + b, 0));
        // The typed "<|im_end|>" stayed text: one control <|im_end|> (the turn end) in the whole prompt.
        expect(ids.filter((x) => x === s.imEnd).length).toBe(1);
        console.log(`${w}x${h} ${mode}: grid ${grid ? `${grid.cols}x${grid.rows}` : 'none'}, crops ${crops.map((x) => `${x.width}x${x.height}`).join(' ')}, pads ${counts.join('+')} = ${imagePadPositions.length}, prompt ${ids.length} ids`);
      });
    }
  }
});

/**
 * Tools through the checkpoint's own template: the prompt ids equal the tokenizer's encode of the
 * template's rendering (HF's `apply_chat_template(..., tokenize=True)`: render, then encode with added
 * tokens recognised) — the tools section, assistant calls as `<tool_call>\n<function=…>` blocks, grouped
 * `<tool_response>` results — with the image pads expanded in place.
 */
describe('4.6 prompt ids with tools', () => {
  const tools = [
    { type: 'function' as const, function: { name: 'get_weather', description: 'Weather for a city (°C)', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] } } },
    { type: 'function' as const, function: { name: 'noop', parameters: { type: 'object', properties: {} } } },
  ];
  const history = [
    { role: 'system', content: 'Answer briefly.' },
    { role: 'user', content: [{ type: 'image' as const }, { type: 'text' as const, text: 'Weather where this photo was taken?' }] },
    { role: 'assistant', content: 'Checking.', tool_calls: [
      { type: 'function' as const, function: { name: 'get_weather', arguments: { city: 'Paris', days: 2 } } },
      { type: 'function' as const, function: { name: 'get_weather', arguments: { city: 'Lyon', filter: { rain: [1, 2] } } } },
    ] },
    { role: 'tool', content: '{"temp": 21}' },
    { role: 'tool', content: [{ type: 'text' as const, text: '{"temp": 18}' }] },
    { role: 'user', content: 'And tomorrow?' },
  ];

  it('equals the encode of the rendered template, image pads expanded', () => {
    const counts = [16, 16, 16];
    const grid = { rows: 1, cols: 2 };
    const { ids, imagePadPositions } = buildPromptIds46(tok, history, [{ tokensPerImage: counts, grid }], { enableThinking: false, tools });
    const rendered = tok.applyChatTemplate(history, { enableThinking: false, tools });
    const c = (x: string): number => tok.addedTokenId(x)!;
    const [before, after] = rendered.split('<|image_pad|>') as [string, string];
    const expected = [
      ...tok.encode(before),
      c('<image_id>'), ...tok.encodePlain('0'), c('</image_id>'), c('<image>'), ...Array(16).fill(c('<|image_pad|>')), c('</image>'),
      c('<slice>'), ...Array(16).fill(c('<|image_pad|>')), c('</slice>'), c('<slice>'), ...Array(16).fill(c('<|image_pad|>')), c('</slice>'),
      ...tok.encode(after),
    ];
    expect(ids).toEqual(expected);
    expect(imagePadPositions.length).toBe(48);
    // The layout the model reads: tools once in the first system turn with the caller's system text
    // after it, two calls in one assistant turn, both results in one user turn.
    expect(rendered.startsWith('<|im_start|>system\n# Tools\n')).toBe(true);
    expect(rendered).toContain(`<tools>\n${JSON.stringify(tools[0]).replace(/":/g, '": ').replace(/,"/g, ', "')}\n`);
    expect(rendered).toContain('\n\nAnswer briefly.<|im_end|>\n<|im_start|>user\n');
    expect(rendered).toContain('<|im_start|>assistant\nChecking.\n\n<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=days>\n2\n</parameter>\n</function>\n</tool_call>\n<tool_call>\n<function=get_weather>\n<parameter=city>\nLyon\n</parameter>\n<parameter=filter>\n{"rain": [1, 2]}\n</parameter>\n</function>\n</tool_call><|im_end|>\n');
    expect(rendered).toContain('<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response>\n<tool_response>\n{"temp": 18}\n</tool_response><|im_end|>\n<|im_start|>user\nAnd tomorrow?');
    expect(ids.filter((x) => x === c('<tool_call>')).length).toBe(3); // two calls + the format example
    expect(ids.filter((x) => x === c('<tool_response>')).length).toBe(2);
    expect(ids.filter((x) => x === c('<|im_start|>')).length).toBe(6);
  });

  it('without tools the section is absent and a lone system turn stays a turn', () => {
    const msgs = [{ role: 'system', content: 'S' }, { role: 'user', content: 'hi' }];
    const { ids } = buildPromptIds46(tok, msgs, [], { enableThinking: false });
    expect(ids).toEqual(tok.encode('<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n'));
  });

  it('user text spelling a control token stays text; a tool or argument spelling one is refused naming the field', () => {
    const { ids } = buildPromptIds46(tok, [{ role: 'user', content: 'say <tool_call> please' }], [], { enableThinking: false, tools });
    expect(ids.filter((x) => x === tok.addedTokenId('<tool_call>')).length).toBe(1); // only the format example
    const bad = [{ ...tools[0]!, function: { ...tools[0]!.function, description: 'ends <|im_end|>' } }];
    expect(() => buildPromptIds46(tok, [{ role: 'user', content: 'x' }], [], { tools: bad })).toThrow(expect.objectContaining({ details: expect.objectContaining({ field: 'tools[0]' }) }));
    const call = [{ role: 'user', content: 'x' }, { role: 'assistant', content: '', tool_calls: [{ type: 'function' as const, function: { name: 'noop', arguments: { a: '</tool_call>' } } }] }, { role: 'tool', content: 'ok' }];
    expect(() => buildPromptIds46(tok, call, [], { tools })).toThrow(expect.objectContaining({ details: expect.objectContaining({ field: 'messages[1].tool_calls[0]' }) }));
  });
});
