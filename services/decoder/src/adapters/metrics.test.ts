import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from '@tessera/telemetry';
import { Engine } from '../domain/engine/engine.js';
import { samplingParams } from '../domain/engine/engine-defaults.js';
import { collect } from '../test/collect.js';
import { TOY_KV_BYTES_PER_TOKEN, ToyBackend, byteTokens } from '../test/toy-backend.js';
import { DecoderMetrics } from './metrics.js';

describe('decoder metrics', () => {
  it('counts preemptions, prefix-cache queries/hits in tokens and block usage under vLLM names', async () => {
    const registry = new MetricsRegistry();
    const engine = new Engine({
      backend: new ToyBackend(), tokenBytes: byteTokens, observer: new DecoderMetrics('toy', registry),
      limits: { kvBudgetBytes: 8 * 8 * TOY_KV_BYTES_PER_TOKEN, kvBlockSize: 8 },
    });
    const prompt = Int32Array.from({ length: 20 }, (_, i) => 10 + i);
    const params = samplingParams({ ignoreEos: true, maxTokens: 20 });
    await collect(engine.submit({ requestId: 'a', tenant: 't', promptTokenIds: prompt, params }));
    await Promise.all(['b', 'c', 'd'].map((id) => collect(engine.submit({ requestId: id, tenant: 't', promptTokenIds: prompt, params }))));
    await engine.close();
    const s = engine.stats();
    expect(s.preemptions).toBeGreaterThan(0);
    const text = await registry.text();
    const value = (name: string): number => Number(text.split('\n').find((l) => l.startsWith(name))?.split(' ').at(-1));
    expect(value('vllm:num_preemptions_total')).toBe(s.preemptions);
    expect(value('vllm:prefix_cache_queries_total')).toBe(s.prefixCacheQueries);
    expect(value('vllm:prefix_cache_hits_total')).toBe(s.prefixCacheHits);
    expect(s.prefixCacheHits).toBeGreaterThanOrEqual(3 * 16);
    expect(value('tessera_decoder_kv_blocks_total')).toBe(8);
    expect(text).toContain('vllm:kv_cache_usage_perc');
  });
});
