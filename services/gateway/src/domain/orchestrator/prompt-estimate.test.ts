/**
 * The gateway's reservation count and /tokenize's chat ids against the decoder's own prompt assembly
 * (what the decoder counts as prompt_tokens): equal, user text that spells a special token included.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel, ensureTinyModel45Paths, ensureTinyModel46Paths, Tokenizer } from '@tessera/model';
import { familySliceOptions, planSlices, planTokens } from '@tessera/vision';
// Test-only reach into the decoder: the reference the estimate must agree with.
import { assemblePrompt } from '../../../../decoder/src/domain/prompt/assemble-prompt.js';
import { assemblePrompt46 } from '../../../../decoder/src/domain/prompt/assemble-prompt46.js';
import { assemblePrompt45 } from '../../../../decoder/src/domain/prompt/assemble-prompt45.js';
import { PromptTokenizer } from '../../../../decoder/src/domain/prompt/prompt-tokenizer.js';
import type { ValidMessage } from '../openai/valid-request.js';
import type { ValidTools } from '../openai/response-format.js';
import { chatPromptIds, estimatePromptTokens, estimatePromptTokens45, estimatePromptTokens46, promptTurns } from './prompt-estimate.js';

let decoderTok: PromptTokenizer;
let gatewayTok: Tokenizer;
const queryNum = 3;

/** A tiny model's tokenizer as the decoder loads it (the reference) and as the gateway does. */
function tokenizers(dir: string): { decoder: PromptTokenizer; gateway: Tokenizer } {
  const read = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
  return { decoder: PromptTokenizer.fromJson(read('tokenizer.json'), read('tokenizer_config.json')), gateway: Tokenizer.fromDir(dir) };
}

beforeAll(async () => {
  ({ decoder: decoderTok, gateway: gatewayTok } = tokenizers(await ensureTinyModel()));
});

function decoderCount(messages: ValidMessage[], plans: ReturnType<typeof planSlices>[], useImageId: boolean): number {
  const images = plans.map((p) => {
    const n = 1 + p.slices.length;
    return { tokens: new Float32Array(n * queryNum * 2), shape: [n, queryNum, 2], gridCols: p.grid?.cols ?? 0, gridRows: p.grid?.rows ?? 0, useImageId };
  });
  const msgs = messages.map((m) => ({ role: m.role as 'system' | 'user' | 'assistant', parts: m.parts.map((p) => (p.kind === 'text' ? { kind: 'text' as const, text: p.text } : { kind: 'image' as const, imageIndex: p.index })) }));
  return assemblePrompt({ messages: msgs, images }, decoderTok, { hiddenSize: 2, queryNum }, { maxImages: 16 }).tokenIds.length;
}

describe('prompt token estimate', () => {
  it('equals the decoder count: default system turn, several images and turns, unicode', () => {
    const plans = [planSlices(64, 64, { maxSliceNums: 9, scaleResolution: 448 }), planSlices(1344, 896, { maxSliceNums: 9, scaleResolution: 448 }), planSlices(4000, 300, { maxSliceNums: 4, scaleResolution: 448 })];
    const cases: Array<{ messages: ValidMessage[]; useImageId: boolean; images: number }> = [
      { messages: [{ role: 'user', parts: [{ kind: 'image', index: 0 }, { kind: 'text', text: 'x' }] }], useImageId: true, images: 1 },
      {
        messages: [
          { role: 'system', parts: [{ kind: 'text', text: 'Be brief.' }] },
          { role: 'user', parts: [{ kind: 'image', index: 1 }, { kind: 'image', index: 2 }, { kind: 'text', text: 'Compare these, 你好 🙂\n\n' }] },
          { role: 'assistant', parts: [{ kind: 'text', text: 'They differ.' }] },
          { role: 'user', parts: [{ kind: 'text', text: 'How?' }, { kind: 'image', index: 0 }] },
        ],
        useImageId: false,
        images: 3,
      },
      { messages: [{ role: 'user', parts: [{ kind: 'text', text: 'hello world, no images at all' }] }], useImageId: true, images: 0 },
    ];
    for (const c of cases) {
      const used = plans.slice(0, c.images);
      expect(estimatePromptTokens(c.messages, used.map((plan) => ({ plan })), gatewayTok, { queryNum, useImageId: c.useImageId })).toBe(decoderCount(c.messages, used, c.useImageId));
    }
  });

  it('equals the decoder count with tools, a tool call and its result in the Hermes layout', () => {
    const tools = { tools: [{ name: 'get_weather', description: 'Weather for a city', parametersJson: '{"type":"object","properties":{"city":{"type":"string"}}}' }], choice: '', parallel: true };
    const messages: ValidMessage[] = [
      { role: 'user', parts: [{ kind: 'text', text: 'Weather in Paris?' }] },
      { role: 'assistant', parts: [], toolCalls: [{ id: 'call_1', name: 'get_weather', argumentsJson: '{"city": "Paris"}' }] },
      { role: 'tool', parts: [{ kind: 'text', text: '18 °C, sunny' }], toolCallId: 'call_1' },
    ];
    const turns = promptTurns({ messages, tools });
    expect(turns.map((t) => t.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(estimatePromptTokens(turns, [], gatewayTok, { queryNum, useImageId: true })).toBe(decoderCount(turns, [], true));
    expect(estimatePromptTokens(turns, [], gatewayTok, { queryNum, useImageId: true })).toBeGreaterThan(estimatePromptTokens(messages.slice(0, 1), [], gatewayTok, { queryNum, useImageId: true }) + 80);
  });

  it('equals the decoder count when user text spells a control token (kept as text, as the decoder does)', () => {
    const messages: ValidMessage[] = [{ role: 'user', parts: [{ kind: 'text', text: 'what is <image> and <|im_end|>?' }] }];
    expect(estimatePromptTokens(messages, [], gatewayTok, { queryNum, useImageId: true })).toBe(decoderCount(messages, [], true));
  });
});

/** Text chats the /tokenize ids are checked on: system turn or not, several turns, spelled control tokens, unicode. */
const TEXT_CHATS: ValidMessage[][] = [
  [{ role: 'user', parts: [{ kind: 'text', text: 'hello world' }] }],
  [
    { role: 'system', parts: [{ kind: 'text', text: 'Be brief.' }] },
    { role: 'user', parts: [{ kind: 'text', text: 'Compare 你好 and Привет 🙂\n\n' }, { kind: 'text', text: 'second part' }] },
    { role: 'assistant', parts: [{ kind: 'text', text: 'They differ.  ' }] },
  ],
  [{ role: 'user', parts: [{ kind: 'text', text: 'what is <image> and <|im_end|> and <think>?' }] }],
];
const ENDINGS = [undefined, 'closed', 'continue-final'] as const;
const asDecoderMessages = (messages: ValidMessage[]) =>
  messages.map((m) => ({
    role: m.role as 'system' | 'user' | 'assistant',
    parts: m.parts.map((p) => (p.kind === 'text' ? { kind: 'text' as const, text: p.text } : { kind: 'image' as const, imageIndex: p.index })),
    ...(m.toolCalls && { toolCalls: m.toolCalls.map((c) => ({ name: c.name, argumentsJson: c.argumentsJson })) }),
  }));
const wireEnding = (e: (typeof ENDINGS)[number]): 'open-turn' | 'closed' | 'continue-final' => e ?? 'open-turn';
const weather: ValidTools = { tools: [{ name: 'get_weather', description: 'Weather for a city', parametersJson: '{"type":"object","properties":{"city":{"type":"string"}}}' }], choice: '', parallel: true };
const toolChat: ValidMessage[] = [
  { role: 'user', parts: [{ kind: 'text', text: 'Weather in Paris?' }] },
  { role: 'assistant', parts: [], toolCalls: [{ id: 'c1', name: 'get_weather', argumentsJson: '{"city": "Paris"}' }] },
  { role: 'tool', parts: [{ kind: 'text', text: '18 °C' }], toolCallId: 'c1' },
];

describe('chat prompt ids (POST /tokenize), against the decoder\'s assembly', () => {
  it('2.6: the ChatML ids, every ending, tools in the Hermes layout', () => {
    for (const messages of TEXT_CHATS) {
      for (const ending of ENDINGS) {
        if (ending === 'continue-final' && messages.at(-1)!.role !== 'assistant' && messages.length > 1) continue;
        const want = Array.from(assemblePrompt({ messages: asDecoderMessages(messages), images: [], ending: wireEnding(ending) }, decoderTok, { hiddenSize: 2, queryNum }, { maxImages: 0 }).tokenIds);
        expect(chatPromptIds('2.6', { messages, ...(ending && { ending }) }, gatewayTok, { defaultEnableThinking: false })).toEqual(want);
      }
    }
    const turns = promptTurns({ messages: toolChat, tools: weather });
    const want = Array.from(assemblePrompt({ messages: asDecoderMessages(turns), images: [] }, decoderTok, { hiddenSize: 2, queryNum }, { maxImages: 0 }).tokenIds);
    expect(chatPromptIds('2.6', { messages: toolChat, tools: weather }, gatewayTok, { defaultEnableThinking: false })).toEqual(want);
  });

  it('4.5 and 4.6: the checkpoint template\'s ids, every ending, both thinking settings (request or default), tools', async () => {
    const t45 = tokenizers((await ensureTinyModel45Paths()).model);
    const t46 = tokenizers((await ensureTinyModel46Paths()).model);
    for (const [family, t] of [['4.5', t45], ['4.6', t46]] as const) {
      const decoder = (messages: ValidMessage[], ending: (typeof ENDINGS)[number], enableThinking: boolean, tools: ValidTools['tools'] = []) => {
        const input = { messages: asDecoderMessages(messages), tools, images: [], ending: wireEnding(ending) };
        const built = family === '4.5' ? assemblePrompt45(input, t.decoder, { hiddenSize: 2, queryNum: 64, enableThinking }, { maxImages: 0 }) : assemblePrompt46(input, t.decoder, { hiddenSize: 2, enableThinking }, { maxImages: 0 });
        return Array.from(built.tokenIds);
      };
      for (const messages of TEXT_CHATS) {
        for (const ending of ENDINGS) {
          for (const thinking of [false, true]) {
            const want = decoder(messages, ending, thinking);
            expect(chatPromptIds(family, { messages, enableThinking: thinking, ...(ending && { ending }) }, t.gateway, { defaultEnableThinking: !thinking })).toEqual(want);
            expect(chatPromptIds(family, { messages, ...(ending && { ending }) }, t.gateway, { defaultEnableThinking: thinking })).toEqual(want);
          }
        }
      }
      expect(chatPromptIds(family, { messages: toolChat, tools: weather }, t.gateway, { defaultEnableThinking: false })).toEqual(decoder(toolChat, undefined, false, weather.tools));
    }
  });
});

describe('prompt token count, MiniCPM-V 4.6 (the checkpoint template)', () => {
  let tok46: Tokenizer;
  let dec46: PromptTokenizer;
  beforeAll(async () => {
    ({ decoder: dec46, gateway: tok46 } = tokenizers((await ensureTinyModel46Paths()).model));
  });

  const hidden = 2;
  function decoder46(messages: ValidMessage[], tools: ValidTools | undefined, plans: ReturnType<typeof planSlices>[], mode: '16x' | '4x', enableThinking: boolean): number {
    const images = plans.map((p) => {
      const per = planTokens(p, '4.6', mode);
      const n = per.reduce((a, b) => a + b, 0);
      return { tokens: new Float32Array(n * hidden), shape: [n, hidden], gridCols: p.grid?.cols ?? 0, gridRows: p.grid?.rows ?? 0, useImageId: true, tokensPerImage: per };
    });
    const msgs = messages.map((m) => ({
      role: m.role,
      parts: m.parts.map((p) => (p.kind === 'text' ? { kind: 'text' as const, text: p.text } : { kind: 'image' as const, imageIndex: p.index })),
      ...(m.toolCalls && { toolCalls: m.toolCalls.map((c) => ({ name: c.name, argumentsJson: c.argumentsJson })) }),
    }));
    const rendered = tools && tools.choice !== 'none' ? tools.tools : [];
    return assemblePrompt46({ messages: msgs, tools: rendered, images }, dec46, { hiddenSize: hidden, enableThinking }, { maxImages: 16 }).tokenIds.length;
  }

  const tools: ValidTools = { tools: [{ name: 'get_weather', description: 'Weather for a city', parametersJson: '{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}' }], choice: '', parallel: true };
  const messages: ValidMessage[] = [
    { role: 'system', parts: [{ kind: 'text', text: 'Be brief.' }] },
    { role: 'user', parts: [{ kind: 'image', index: 0 }, { kind: 'text', text: 'Where is this? 你好 🙂' }] },
    { role: 'assistant', parts: [{ kind: 'text', text: 'Let me look.' }], toolCalls: [{ id: 'c1', name: 'get_weather', argumentsJson: '{"city": "Paris"}' }, { id: 'c2', name: 'get_weather', argumentsJson: '{"city":"Lyon"}' }] },
    { role: 'tool', parts: [{ kind: 'text', text: '18 °C' }], toolCallId: 'c1' },
    { role: 'tool', parts: [{ kind: 'text', text: '15 °C' }], toolCallId: 'c2' },
    { role: 'user', parts: [{ kind: 'text', text: 'And <image> tomorrow?' }, { kind: 'image', index: 1 }] },
  ];

  it('equals the decoder count exactly (tools, calls, results, images in both modes); the 2.6 walk over-reserved', () => {
    const plans = [planSlices(1344, 896, familySliceOptions('4.6')), planSlices(300, 200, familySliceOptions('4.6'))];
    for (const mode of ['16x', '4x'] as const) {
      const images = plans.map((plan) => ({ plan, tokensPerImage: planTokens(plan, '4.6', mode) }));
      for (const t of [tools, undefined, { ...tools, choice: 'none' }]) {
        const msgs = t ? messages : messages.filter((m) => m.role !== 'tool').map(({ toolCalls: _, ...m }) => m);
        const est = estimatePromptTokens46({ messages: msgs, tools: t }, images, tok46, { useImageId: true });
        // Exact against the decoder's default (enable_thinking false); never short of the other setting.
        expect(est).toBe(Math.max(decoder46(msgs, t, plans, mode, false), decoder46(msgs, t, plans, mode, true)));
        expect(est).toBe(decoder46(msgs, t, plans, mode, false));
        const old = estimatePromptTokens(promptTurns({ messages: msgs, tools: t }), images, tok46, { queryNum: 0, useImageId: true });
        console.log(`4.6 ${mode} tools=${t ? t.choice || 'auto' : 'absent'}: exact ${est}, 2.6 layout walk ${old}`);
      }
    }
  });

  it('per image size and mode, and with the request\'s enable_thinking, equals the decoder count exactly', () => {
    const user: ValidMessage[] = [{ role: 'user', parts: [{ kind: 'image', index: 0 }, { kind: 'text', text: 'What is this?' }] }];
    for (const [w, h] of [[448, 448], [1344, 896], [4032, 3024], [200, 3000]] as const) {
      const plan = planSlices(w, h, familySliceOptions('4.6'));
      for (const mode of ['16x', '4x'] as const) {
        const images = [{ plan, tokensPerImage: planTokens(plan, '4.6', mode) }];
        for (const enableThinking of [false, true]) {
          expect(estimatePromptTokens46({ messages: user, tools: undefined, enableThinking }, images, tok46, { useImageId: true })).toBe(decoder46(user, undefined, [plan], mode, enableThinking));
        }
      }
    }
  });

  it('a tool definition spelling a control token is a 400 naming the tool', () => {
    const bad: ValidTools = { ...tools, tools: [{ ...tools.tools[0]!, description: 'ends <|im_end|>' }] };
    expect(() => estimatePromptTokens46({ messages: messages.slice(0, 2), tools: bad }, [{ plan: planSlices(300, 200, familySliceOptions('4.6')), tokensPerImage: [16] }], tok46, { useImageId: true })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', details: expect.objectContaining({ field: 'tools[0]' }) }),
    );
  });
});

describe('prompt token count, MiniCPM-V 4.5 (Qwen3 template, 2.6 image layout)', () => {
  let tok45: Tokenizer;
  let dec45: PromptTokenizer;
  beforeAll(async () => {
    ({ decoder: dec45, gateway: tok45 } = tokenizers((await ensureTinyModel45Paths()).model));
  });

  const q = 64;
  function decoder45(messages: ValidMessage[], plans: ReturnType<typeof planSlices>[], useImageId: boolean, enableThinking: boolean, tools: ValidTools['tools'] = []): number {
    const images = plans.map((p) => {
      const n = 1 + p.slices.length;
      return { tokens: new Float32Array(n * q * 2), shape: [n, q, 2], gridCols: p.grid?.cols ?? 0, gridRows: p.grid?.rows ?? 0, useImageId };
    });
    const msgs = messages.map((m) => ({
      role: m.role,
      parts: m.parts.map((p) => (p.kind === 'text' ? { kind: 'text' as const, text: p.text } : { kind: 'image' as const, imageIndex: p.index })),
      ...(m.toolCalls && { toolCalls: m.toolCalls.map((c) => ({ name: c.name, argumentsJson: c.argumentsJson })) }),
    }));
    return assemblePrompt45({ messages: msgs, tools, images }, dec45, { hiddenSize: 2, queryNum: q, enableThinking }, { maxImages: 16 }).tokenIds.length;
  }

  it('tools, a call and its result go through the Qwen3 template (were dropped): the count equals the decoder\'s', () => {
    const tools: ValidTools = { tools: [{ name: 'get_weather', description: 'Weather for a city', parametersJson: '{"type":"object","properties":{"city":{"type":"string"}}}' }], choice: '', parallel: true };
    const messages: ValidMessage[] = [
      { role: 'user', parts: [{ kind: 'text', text: 'Weather in Paris?' }] },
      { role: 'assistant', parts: [], toolCalls: [{ id: 'c1', name: 'get_weather', argumentsJson: '{"city": "Paris"}' }] },
      { role: 'tool', parts: [{ kind: 'text', text: '18 °C' }], toolCallId: 'c1' },
    ];
    const withTools = decoder45(messages, [], true, false, tools.tools);
    expect(estimatePromptTokens45({ messages, tools, enableThinking: false }, [], tok45, { queryNum: q, useImageId: true })).toBe(withTools);
    expect(estimatePromptTokens45({ messages, tools: { ...tools, choice: 'none' }, enableThinking: false }, [], tok45, { queryNum: q, useImageId: true })).toBe(decoder45(messages, [], true, false));
    expect(withTools).toBeGreaterThan(decoder45(messages, [], true, false) + 40); // the <tools> section
    const rendered = tok45.applyChatTemplate([{ role: 'user', content: 'Weather in Paris?' }, { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] }], { enableThinking: false });
    expect(rendered).toContain('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>');
  });

  it('equals the decoder count for several image sizes, turns, both thinking settings; the 2.6 walk did not', () => {
    const sizes = [[64, 64], [448, 448], [1344, 896], [4032, 3024], [4000, 300]] as const;
    const plans = sizes.map(([w, h]) => planSlices(w, h, { maxSliceNums: 9, scaleResolution: 448 }));
    const conversations: ValidMessage[][] = [
      [{ role: 'user', parts: [{ kind: 'image', index: 0 }, { kind: 'text', text: 'What is this?' }] }],
      [
        { role: 'system', parts: [{ kind: 'text', text: 'Be brief.' }] },
        { role: 'user', parts: [{ kind: 'image', index: 0 }, { kind: 'image', index: 1 }, { kind: 'text', text: 'Compare, 你好 🙂' }] },
        { role: 'assistant', parts: [{ kind: 'text', text: 'They differ.' }] },
        { role: 'user', parts: [{ kind: 'text', text: 'How?' }] },
      ],
    ];
    for (let i = 0; i < plans.length; i++) {
      for (const messages of conversations) {
        const used = [plans[i]!, plans[(i + 1) % plans.length]!].slice(0, messages.length > 1 ? 2 : 1);
        const images = used.map((plan) => ({ plan }));
        for (const useImageId of [true, false]) {
          const want = decoder45(messages, used, useImageId, false);
          expect(estimatePromptTokens45({ messages, enableThinking: false }, images, tok45, { queryNum: q, useImageId })).toBe(want);
          expect(estimatePromptTokens45({ messages, enableThinking: true }, images, tok45, { queryNum: q, useImageId })).toBe(decoder45(messages, used, useImageId, true));
          // Unset: the decoder's default (false) is exact, and the reservation is never short of true.
          expect(estimatePromptTokens45({ messages }, images, tok45, { queryNum: q, useImageId })).toBe(Math.max(want, decoder45(messages, used, useImageId, true)));
          if (i === 2 && useImageId && messages.length === 1) {
            const old = estimatePromptTokens(messages, images, tok45, { queryNum: q, useImageId });
            expect(old).not.toBe(want);
            console.log(`4.5 1344x896: exact ${want}, 2.6 layout walk ${old}`);
          }
        }
      }
    }
  });
});
