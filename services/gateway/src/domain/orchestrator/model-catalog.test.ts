/** The served model's description by family: 4.5 keeps the 2.6 pipeline (resampler, no token modes) but lists as 4.5; its tokenizer config and context length. */
import { describe, expect, it } from 'vitest';
import { ensureTinyModel, ensureTinyModel45Paths, ensureTinyModel46Paths } from '@tessera/model';
import { loadModelInfo, slicingFamily } from './model-catalog.js';

describe('model catalog', () => {
  it('describes 4.5 (2.6 layout) and 4.6 (no resampler, token modes) models', async () => {
    const m45 = loadModelInfo((await ensureTinyModel45Paths()).model, 'minicpm-v-4_5');
    expect([m45.family, slicingFamily(m45.family), m45.queryNum, m45.downsampleModes]).toEqual(['4.5', '2.6', 64, []]);
    const m46 = loadModelInfo((await ensureTinyModel46Paths()).model, 'minicpm-v-4_6');
    expect([m46.family, slicingFamily(m46.family), m46.queryNum, m46.downsampleModes]).toEqual(['4.6', '4.6', 0, ['16x', '4x']]);
  });

  it('carries tokenizer_config.json as the directory has it and the context length the decoder reads (max_position_embeddings, top level or text_config)', async () => {
    const m26 = loadModelInfo(await ensureTinyModel(), 'minicpm-v-2_6');
    expect(m26.tokenizerConfig).toMatchObject({ tokenizer_class: 'Qwen2Tokenizer', eos_token: '<|im_end|>', add_bos_token: false });
    expect(m26.maxPositionEmbeddings).toBe(32768);
    const m46 = loadModelInfo((await ensureTinyModel46Paths()).model, 'minicpm-v-4_6');
    expect([m46.tokenizerConfig.bos_token, m46.maxPositionEmbeddings]).toEqual([null, 262144]);
  });
});
