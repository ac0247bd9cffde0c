/**
 * Sampling defaults for fields a request leaves unset, resolved once at startup as HF / vLLM do.
 *
 * `auto` (vLLM's `--generation-config auto`): the checkpoint's generation_config.json first
 * (`temperature`, `top_p`, `top_k`, `min_p`, `repetition_penalty`, `max_new_tokens`; `do_sample: false`
 * means greedy), then MiniCPM-V's own chat defaults for what it leaves unset — the values
 * `MiniCPMV.chat(sampling=True)` passes to `generate()` in 2.6 (temperature 0.7, top_p 0.8, top_k 100,
 * repetition_penalty 1.05); the real 2.6 generation_config.json carries only token ids, so these apply.
 * MiniCPM-V 4.6 has no `chat()` with its own defaults: what its generation_config.json leaves unset is
 * neutral (vLLM's behaviour), not 2.6's chat values.
 * `service`: only the service's TESSERA_DECODER_DEFAULT_* keys (neutral sampling otherwise).
 */
import type { FamilyId } from '@tessera/model';
import type { SamplingParams } from './types.js';

/** The sampling fields a request may leave unset (the same fields, units and ranges as SamplingParams). */
export type GenerationDefaults = Pick<
  SamplingParams,
  'maxTokens' | 'temperature' | 'topK' | 'topP' | 'minP' | 'repetitionPenalty' | 'presencePenalty' | 'frequencyPenalty'
>;

export type GenerationConfigMode = 'auto' | 'service';

export const MINICPMV_CHAT_DEFAULTS = Object.freeze({ temperature: 0.7, topP: 0.8, topK: 100, repetitionPenalty: 1.05 });

export function resolveGenerationDefaults(
  mode: GenerationConfigMode,
  generationConfig: Record<string, unknown> | undefined,
  service: { maxTokens: number; temperature: number },
  family: FamilyId = '2.6',
): GenerationDefaults {
  const neutral: GenerationDefaults = { maxTokens: service.maxTokens, temperature: service.temperature, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0 };
  if (mode === 'service') return neutral;
  const g = generationConfig ?? {};
  const num = (k: string): number | undefined => (typeof g[k] === 'number' && Number.isFinite(g[k]) ? (g[k] as number) : undefined);
  const chat = family === '2.6' ? MINICPMV_CHAT_DEFAULTS : { temperature: service.temperature, topP: 1, topK: 0, repetitionPenalty: 1 };
  const greedy = g.do_sample === false;
  return {
    maxTokens: num('max_new_tokens') ?? service.maxTokens,
    temperature: greedy ? 0 : (num('temperature') ?? chat.temperature),
    topK: num('top_k') ?? chat.topK,
    topP: num('top_p') ?? chat.topP,
    minP: num('min_p') ?? 0,
    repetitionPenalty: num('repetition_penalty') ?? chat.repetitionPenalty,
    presencePenalty: 0,
    frequencyPenalty: 0,
  };
}
