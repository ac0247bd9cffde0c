import type { ExportFormat } from './formats.js';

/**
 * JSON Schemas (draft 2020-12 subset) of every export row, published in the README and checked
 * by `validateRow` — a deliberately small validator for the keywords used here (type, required,
 * properties, additionalProperties, items, enum, const, minItems, minimum), so no schema library
 * is needed at runtime.
 */
export type JsonSchema = {
  type?: string | string[];
  required?: string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  minItems?: number;
  minimum?: number;
  oneOf?: JsonSchema[];
};

const str: JsonSchema = { type: 'string' };
const textPart: JsonSchema = { type: 'object', required: ['type', 'text'], properties: { type: { const: 'text' }, text: str }, additionalProperties: false };
const imagePart: JsonSchema = { type: 'object', required: ['type'], properties: { type: { const: 'image' } }, additionalProperties: false };
const trlMessage: JsonSchema = {
  type: 'object',
  required: ['role', 'content'],
  properties: { role: { enum: ['system', 'user', 'assistant'] }, content: { type: 'array', items: { oneOf: [textPart, imagePart] } } },
  additionalProperties: false,
};
const trlAssistant: JsonSchema = { type: 'array', minItems: 1, items: { type: 'object', required: ['role', 'content'], properties: { role: { const: 'assistant' }, content: { type: 'array', minItems: 1, items: textPart } }, additionalProperties: false } };
const images: JsonSchema = { type: 'array', items: str };
const oaPart: JsonSchema = {
  oneOf: [
    textPart,
    { type: 'object', required: ['type', 'image_url'], properties: { type: { const: 'image_url' }, image_url: { type: 'object', required: ['url'], properties: { url: str }, additionalProperties: false } }, additionalProperties: false },
  ],
};
const oaOutput: JsonSchema = { type: 'array', minItems: 1, items: { type: 'object', required: ['role', 'content'], properties: { role: { const: 'assistant' }, content: str }, additionalProperties: false } };
const hfImage: JsonSchema = { type: ['object', 'null'], required: ['bytes', 'path'], properties: { bytes: { type: ['string', 'null'] }, path: str }, additionalProperties: false };
const offsets: JsonSchema = {
  type: 'object',
  required: ['start', 'end', 'utf16', 'utf8', 'text'],
  properties: { start: { type: 'integer', minimum: 0 }, end: { type: 'integer', minimum: 0 }, utf16: { type: 'array', items: { type: 'integer' } }, utf8: { type: 'array', items: { type: 'integer' } }, text: str },
  additionalProperties: false,
};
const rlaifCommon = { ds_name: str, image: hfImage, origin_dataset: str, origin_split: str, idx: { type: 'integer', minimum: 0 }, image_path: str, id: str };

export const EXPORT_SCHEMAS: Record<ExportFormat, JsonSchema> = {
  'trl-dpo': {
    oneOf: [
      { type: 'object', required: ['id', 'prompt', 'chosen', 'rejected', 'images'], properties: { id: str, prompt: { type: 'array', minItems: 1, items: trlMessage }, chosen: trlAssistant, rejected: trlAssistant, images }, additionalProperties: false },
      // A text completion: TRL's standard (non-conversational) preference row.
      { type: 'object', required: ['id', 'prompt', 'chosen', 'rejected', 'images'], properties: { id: str, prompt: str, chosen: str, rejected: str, images }, additionalProperties: false },
    ],
  },
  'openai-dpo': {
    type: 'object',
    required: ['input', 'preferred_output', 'non_preferred_output'],
    properties: {
      input: {
        type: 'object',
        required: ['messages'],
        properties: {
          messages: { type: 'array', minItems: 1, items: { type: 'object', required: ['role', 'content'], properties: { role: { enum: ['system', 'user', 'assistant'] }, content: str }, additionalProperties: false } },
          tools: { type: 'array' },
          parallel_tool_calls: { type: 'boolean' },
        },
        additionalProperties: false,
      },
      preferred_output: oaOutput,
      non_preferred_output: oaOutput,
    },
    additionalProperties: false,
  },
  'openai-sft': {
    type: 'object',
    required: ['messages'],
    properties: {
      messages: { type: 'array', minItems: 2, items: { type: 'object', required: ['role', 'content'], properties: { role: { enum: ['system', 'user', 'assistant'] }, content: { oneOf: [str, { type: 'array', items: oaPart }] } }, additionalProperties: false } },
    },
    additionalProperties: false,
  },
  'rlaif-v': { type: 'object', required: ['ds_name', 'image', 'question', 'chosen', 'rejected', 'origin_dataset', 'origin_split', 'idx', 'image_path'], properties: { ...rlaifCommon, question: str, chosen: str, rejected: str }, additionalProperties: false },
  kto: {
    oneOf: [
      { type: 'object', required: ['prompt', 'completion', 'label'], properties: { id: str, prompt: { type: 'array', minItems: 1, items: trlMessage }, completion: trlAssistant, label: { type: 'boolean' }, images, rating_key: str }, additionalProperties: false },
      // A text completion: TRL's standard unpaired preference row.
      { type: 'object', required: ['prompt', 'completion', 'label'], properties: { id: str, prompt: str, completion: str, label: { type: 'boolean' }, images, rating_key: str }, additionalProperties: false },
    ],
  },
  sft: {
    oneOf: [
      { type: 'object', required: ['messages'], properties: { id: str, messages: { type: 'array', minItems: 2, items: trlMessage }, images }, additionalProperties: false },
      // A text completion: TRL's standard prompt-completion row.
      { type: 'object', required: ['prompt', 'completion'], properties: { id: str, prompt: str, completion: str, images }, additionalProperties: false },
    ],
  },
  'spans-sidecar': {
    type: 'object',
    required: ['id', 'origin', 'offset_unit', 'dense', 'rejected_length', 'chosen_length', 'spans'],
    properties: {
      id: str,
      origin: { enum: ['preference', 'correction', 'span_correction'] },
      offset_unit: { const: 'code_point' },
      dense: { type: 'boolean' },
      rejected_length: { type: 'integer', minimum: 0 },
      chosen_length: { type: 'integer', minimum: 0 },
      spans: { type: 'array', items: { type: 'object', required: ['category', 'rejected', 'chosen'], properties: { category: str, rejected: offsets, chosen: offsets }, additionalProperties: false } },
    },
    additionalProperties: false,
  },
};

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Returns the problems found (empty = valid), each as `path: message`. */
export function validateAgainst(schema: JsonSchema, value: unknown, path = '$'): string[] {
  const errs: string[] = [];
  if (schema.oneOf) {
    const ok = schema.oneOf.filter((s) => validateAgainst(s, value, path).length === 0).length;
    if (ok !== 1) errs.push(`${path}: must match exactly one alternative (matched ${ok})`);
    return errs;
  }
  if (schema.const !== undefined && value !== schema.const) errs.push(`${path}: must be ${JSON.stringify(schema.const)}`);
  if (schema.enum && !schema.enum.includes(value)) errs.push(`${path}: must be one of ${JSON.stringify(schema.enum)}`);
  if (schema.type) {
    const t = typeOf(value);
    const allowed = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!allowed.includes(t) && !(t === 'integer' && allowed.includes('number'))) return [...errs, `${path}: must be ${allowed.join(' or ')}, got ${t}`];
  }
  if (typeof value === 'number' && schema.minimum !== undefined && value < schema.minimum) errs.push(`${path}: must be >= ${schema.minimum}`);
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errs.push(`${path}: must have >= ${schema.minItems} items`);
    if (schema.items) value.forEach((v, i) => errs.push(...validateAgainst(schema.items!, v, `${path}[${i}]`)));
  } else if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    for (const k of schema.required ?? []) if (!(k in obj)) errs.push(`${path}: missing required ${k}`);
    for (const [k, v] of Object.entries(obj)) {
      const sub = schema.properties?.[k];
      if (sub) errs.push(...validateAgainst(sub, v, `${path}.${k}`));
      else if (schema.additionalProperties === false) errs.push(`${path}: unexpected property ${k}`);
    }
  }
  return errs;
}

export function validateRow(format: ExportFormat, row: unknown): string[] {
  return validateAgainst(EXPORT_SCHEMAS[format], row);
}
