import { describe, expect, it } from 'vitest';
import { toParams } from '../../service.js';
import { MINICPMV_CHAT_DEFAULTS, resolveGenerationDefaults } from './generation-defaults.js';

const service = { maxTokens: 512, temperature: 1 };

describe('generation defaults (HF / vLLM --generation-config auto)', () => {
  it('a request with no sampling fields uses the checkpoint generation_config values', () => {
    const d = resolveGenerationDefaults('auto', { temperature: 0.6, top_p: 0.9, top_k: 20, min_p: 0.05, repetition_penalty: 1.1, max_new_tokens: 100, do_sample: true }, service);
    const p = toParams(undefined, d);
    expect([p.maxTokens, p.temperature, p.topP, p.topK, p.minP, p.repetitionPenalty, p.presencePenalty]).toEqual([100, 0.6, 0.9, 20, 0.05, 1.1, 0]);
  });

  it('fields the generation_config leaves unset come from MiniCPM-V chat defaults; the request overrides either', () => {
    const d = resolveGenerationDefaults('auto', { bos_token_id: 151643, eos_token_id: 151645, top_p: 0.5 }, service);
    const p = toParams(undefined, d);
    expect([p.maxTokens, p.temperature, p.topP, p.topK, p.repetitionPenalty]).toEqual([512, MINICPMV_CHAT_DEFAULTS.temperature, 0.5, 100, 1.05]);
    const r = toParams({ temperature: 0, topK: 5, repetitionPenalty: 1, stop: [], stopTokenIds: [] } as never, d);
    expect([r.temperature, r.topK, r.repetitionPenalty, r.topP]).toEqual([0, 5, 1, 0.5]);
  });

  it('do_sample false means greedy; mode service ignores the checkpoint', () => {
    expect(resolveGenerationDefaults('auto', { do_sample: false, temperature: 0.9 }, service).temperature).toBe(0);
    expect(resolveGenerationDefaults('service', { temperature: 0.9, top_k: 3 }, service)).toMatchObject({ temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 });
  });
});
