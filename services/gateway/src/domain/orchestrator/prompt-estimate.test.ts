/**
 * The gateway's reservation count against the decoder's own prompt assembly (the count the decoder
 * reports as prompt_tokens): equal for ordinary text, an upper bound when user text spells a
 * special token.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel, Tokenizer } from '@tessera/model';
import { planSlices } from '@tessera/vision';
// Test-only reach into the decoder: the reference the estimate must agree with.
import { assemblePrompt } from '../../../../decoder/src/domain/prompt/assemble-prompt.js';
import { PromptTokenizer } from '../../../../decoder/src/domain/prompt/prompt-tokenizer.js';
import type { ValidMessage } from '../openai/valid-request.js';
import { estimatePromptTokens, promptTurns } from './prompt-estimate.js';

let decoderTok: PromptTokenizer;
let gatewayTok: Tokenizer;
const queryNum = 3;

beforeAll(async () => {
  const dir = await ensureTinyModel();
  const read = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
  decoderTok = PromptTokenizer.fromJson(read('tokenizer.json'), read('tokenizer_config.json'));
  gatewayTok = Tokenizer.fromDir(dir);
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

  it('is an upper bound when user text spells a control token', () => {
    const messages: ValidMessage[] = [{ role: 'user', parts: [{ kind: 'text', text: 'what is <image> and <|im_end|>?' }] }];
    const est = estimatePromptTokens(messages, [], gatewayTok, { queryNum, useImageId: true });
    expect(est).toBeGreaterThanOrEqual(decoderCount(messages, [], true));
  });
});
