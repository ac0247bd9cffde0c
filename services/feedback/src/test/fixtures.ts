import type { RecordResponseInput } from '../domain/input.js';

import { createHash } from 'node:crypto';

/** Two small "images" and their sha256 keys (as the image store names them, per tenant). */
export const IMG_A_BYTES = new Uint8Array([137, 80, 78, 71, 1, 2, 3]);
export const IMG_B_BYTES = new Uint8Array([255, 216, 255, 9, 8, 7]);
export const IMG_A = createHash('sha256').update(IMG_A_BYTES).digest('hex');
export const IMG_B = createHash('sha256').update(IMG_B_BYTES).digest('hex');

/** Japanese with astral characters: 𠮷 (U+20BB7), 𩸽 (U+29E3D), 🍣 (U+1F363) are 2 UTF-16 units each. */
export const JA_ANSWER = '𠮷野家で𩸽を三匹食べた🍣。皿は青い。';
/** Chinese with an astral CJK Extension B character 𠀀 (U+20000) and 𪚥 (U+2A6A5). */
export const ZH_ANSWER = '图中有𠀀两个红色的苹果，右边是𪚥一只猫。';

export function responseInput(over: Partial<RecordResponseInput> = {}): RecordResponseInput {
  return {
    responseId: 'resp_1',
    model: 'minicpm-v-2_6',
    modelRevision: 'rev-1',
    messages: [{ role: 'user', content: [{ image: { bucket: 'tessera-images', key: IMG_A, size: IMG_A_BYTES.length, contentType: 'image/png' } }, { text: '写真を説明してください。' }] }],
    sources: [{ index: 1, collection: 'docs', id: 'doc#0', text: 'a source', relevance: 0.8 }],
    sampling: { temperature: 0.7, topP: 0.9, seed: 42, maxTokens: 128 },
    answer: JA_ANSWER,
    finishReason: 'stop',
    usage: { promptTokens: 100, visualTokens: 64, completionTokens: 20, totalTokens: 120 },
    confidence: { tokenCount: 20, meanLogprob: -0.4, minLogprob: -3.2, lowConfidenceTokens: 2, spans: [{ start: 4, end: 5, meanLogprob: -2.5 }] },
    collection: 'docs',
    ...over,
  };
}
