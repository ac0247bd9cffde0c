import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTinyModel, loadTokenizer, type Tokenizer } from '../index.js';

let tok: Tokenizer;
beforeAll(async () => {
  tok = loadTokenizer(await ensureTinyModel());
});

describe('Tokenizer (Qwen BPE + MiniCPM-V 2.6 specials)', () => {
  it('has the 2.6 vocabulary size and special ids', () => {
    expect(tok.vocabSize).toBe(151666);
    expect(tok.specialTokenIds).toMatchObject({ endOfText: 151643, imStart: 151644, imEnd: 151645, image: 151646, imageEnd: 151647, slice: 151656, sliceEnd: 151657, imageId: 151658, imageIdEnd: 151659, unk: 128244, newline: 198 });
  });

  it('encodes special tokens in text as single ids and round-trips', () => {
    const text = '<image_id>0</image_id><image><unk><unk></image><slice><unk></slice>\nHello, 世界!';
    const ids = tok.encode(text);
    expect(ids.slice(0, 10)).toEqual([151658, 15, 151659, 151646, 128244, 128244, 151647, 151656, 128244, 151657]);
    expect(tok.decode(ids)).toBe(text);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('0\nHello, 世界!');
  });

  it('applies the ChatML template with the default system prompt', () => {
    const s = tok.applyChatTemplate([{ role: 'user', content: 'Hi' }]);
    expect(s).toBe('<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(tok.encode(s)[0]).toBe(151644);
    expect(tok.stopTokenIds).toEqual([151645, 151643]);
  });

  it('gives each id its vocabulary entry (HF convert_ids_to_tokens), undefined past the vocabulary', () => {
    const ids = tok.encode('<|im_start|>Hello world');
    expect(ids.map((id) => tok.tokenString(id))).toEqual(['<|im_start|>', 'Hello', 'Ġworld']);
    expect(tok.tokenString(tok.vocabSize)).toBeUndefined();
  });
});
