/**
 * Refuses a tokenizer.json the embedder would tokenize wrongly, before anything is loaded, naming
 * the field: a component type @lenml/tokenizers does not implement (it would throw a bare
 * "Unknown Normalizer type" deep in construction — or, for Unigram byte fallback, which it ignores,
 * silently map unknown characters to <unk> instead of byte pieces and give different vectors).
 * The type lists are the `fromConfig` switches of @lenml/tokenizers 1.x.
 */
import { ErrorCode, TesseraError } from '@tessera/runtime';

const SUPPORTED: Record<'model' | 'normalizer' | 'pre_tokenizer' | 'post_processor' | 'decoder', readonly string[]> = {
  model: ['WordPiece', 'Unigram', 'BPE'],
  normalizer: ['BertNormalizer', 'Precompiled', 'Sequence', 'Replace', 'NFC', 'NFD', 'NFKC', 'NFKD', 'Strip', 'StripAccents', 'Lowercase', 'Prepend'],
  pre_tokenizer: ['BertPreTokenizer', 'Sequence', 'Whitespace', 'WhitespaceSplit', 'Metaspace', 'ByteLevel', 'Split', 'Punctuation', 'Digits', 'Replace'],
  post_processor: ['TemplateProcessing', 'ByteLevel', 'RobertaProcessing', 'BertProcessing', 'Sequence'],
  decoder: ['WordPiece', 'Metaspace', 'ByteLevel', 'Replace', 'ByteFallback', 'Fuse', 'Strip', 'Sequence', 'CTC', 'BPEDecoder'],
};
/** The list field of each component's `Sequence`. */
const CHILDREN = { normalizer: 'normalizers', pre_tokenizer: 'pretokenizers', post_processor: 'processors', decoder: 'decoders' } as const;

const unsupported = (file: string, field: string, message: string, limit: string) =>
  new TesseraError(ErrorCode.INVALID_ARGUMENT, `${file}: ${field} ${message}`, { field: `tokenizer.json ${field}`, limit });

function checkComponent(file: string, kind: keyof typeof CHILDREN, node: unknown, path: string): void {
  if (node === null || node === undefined) return;
  const type = (node as { type?: unknown }).type;
  const ok = SUPPORTED[kind];
  if (typeof type !== 'string' || !ok.includes(type)) throw unsupported(file, `${path}.type`, `${JSON.stringify(type ?? null)} is not supported (supported: ${ok.join(', ')})`, ok.join(' | '));
  if (type === 'Sequence') {
    const children = (node as Record<string, unknown>)[CHILDREN[kind]];
    if (!Array.isArray(children)) throw unsupported(file, `${path}.${CHILDREN[kind]}`, 'must be an array', 'array');
    children.forEach((c, i) => checkComponent(file, kind, c, `${path}.${CHILDREN[kind]}[${i}]`));
  }
}

/** Throws INVALID_ARGUMENT (field `tokenizer.json <path>`) for the first unsupported part. */
export function checkTokenizerJson(tokenizerJSON: Record<string, unknown>, file = 'tokenizer.json'): void {
  const model = tokenizerJSON.model as { type?: unknown; byte_fallback?: unknown } | undefined;
  const type = model?.type;
  if (typeof type !== 'string' || !SUPPORTED.model.includes(type)) {
    throw unsupported(file, 'model.type', `${JSON.stringify(type ?? null)} is not supported (supported: ${SUPPORTED.model.join(', ')})`, SUPPORTED.model.join(' | '));
  }
  if (type === 'Unigram' && model?.byte_fallback === true) throw unsupported(file, 'model.byte_fallback', 'true is not supported for Unigram models (unknown characters would become <unk>, not byte pieces)', 'false');
  for (const kind of Object.keys(CHILDREN) as Array<keyof typeof CHILDREN>) checkComponent(file, kind, tokenizerJSON[kind], kind);
}
