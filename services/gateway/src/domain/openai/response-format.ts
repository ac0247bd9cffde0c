/**
 * OpenAI `response_format`, `tools` and `tool_choice` → their validated form, and from there onto
 * the decoding contract. Never silently ignored: a schema keyword constrained decoding cannot enforce
 * is a 400 naming the keyword; a tool whose `parameters` is not a JSON Schema is a 400; tools sent to a
 * model whose chat template has no tool-call format are a 400 naming `tools`.
 */
import { invalidArgument } from '@tessera/runtime';
import { compileSchema, forcedToolSchema } from '@tessera/structured';
import type { decodingV1 } from '@tessera/contracts';

export type ValidResponseFormat = { kind: 'json_object' } | { kind: 'json_schema'; name: string; schemaJson: string; strict: boolean };

export interface ValidTool {
  name: string;
  description: string;
  /** JSON text of the arguments' schema ('' = none). */
  parametersJson: string;
}

export interface ValidTools {
  tools: ValidTool[];
  /** '' (auto), 'none', 'required', or a tool name. */
  choice: string;
  /** OpenAI `parallel_tool_calls` (default true); false = at most one call per turn. */
  parallel: boolean;
}

/** What the deployment can do with a request (from the served model's family). */
export interface ModelFeatures {
  /** The chat template renders `tools` and the decoder parses tool calls back. */
  toolCalls: boolean;
  /** Shown in the refusal, e.g. "MiniCPM-V 2.6". */
  familyName: string;
  /** Why tool calls are unavailable, for the refusal. */
  why?: string;
  /** `{"type": "video"}` content parts: only MiniCPM-V 4.5 has the 3D resampler (validate-video.ts). */
  video?: boolean;
}

/**
 * Tool-call support per served family. 2.6 (ChatML, Qwen2 base) is served with the Hermes tool
 * template (libs/structured tool-calls.ts: what vLLM's tool_chat_template_hermes.jinja renders for
 * ChatML models, since 2.6's own template has no tool section). 4.6 renders tools through the
 * checkpoint's own Qwen3.5-style template and answers in Qwen3-Coder XML, which the same parser reads;
 * 4.5 through its Qwen3 template (Hermes `<tools>` section and `<tool_call>` JSON, assemble-prompt45.ts).
 */
export function modelFeatures(family: string): ModelFeatures {
  if (family === '4.6') return { toolCalls: true, familyName: 'MiniCPM-V 4.6' };
  if (family === '4.5') return { toolCalls: true, familyName: 'MiniCPM-V 4.5', video: true };
  return { toolCalls: true, familyName: 'MiniCPM-V 2.6' };
}

export const STRUCTURED_LIMITS = { maxSchemaBytes: 64 * 1024, maxTools: 64 } as const;

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);

function asObject(raw: unknown, field: string): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalidArgument(field, `${field} must be an object`);
  return raw as Record<string, unknown>;
}

export function parseResponseFormat(raw: unknown): ValidResponseFormat | undefined {
  if (raw === undefined || raw === null) return undefined;
  const rf = asObject(raw, 'response_format');
  if (rf.type === 'text') return undefined;
  if (rf.type === 'json_object') return { kind: 'json_object' };
  if (rf.type !== 'json_schema') throw invalidArgument('response_format.type', `response_format.type must be "text", "json_object" or "json_schema", not ${JSON.stringify(rf.type)}`);
  const js = asObject(rf.json_schema, 'response_format.json_schema');
  if (typeof js.name !== 'string' || !NAME.test(js.name)) throw invalidArgument('response_format.json_schema.name', 'json_schema.name must be 1–64 characters of letters, digits, "_" and "-"', 'length <= 64');
  if (js.strict !== undefined && js.strict !== null && typeof js.strict !== 'boolean') throw invalidArgument('response_format.json_schema.strict', 'strict must be a boolean');
  const schema = js.schema ?? {};
  const schemaJson = JSON.stringify(schema);
  if (Buffer.byteLength(schemaJson) > STRUCTURED_LIMITS.maxSchemaBytes) {
    throw invalidArgument('response_format.json_schema.schema', `schema is ${Buffer.byteLength(schemaJson)} bytes`, `schema <= ${STRUCTURED_LIMITS.maxSchemaBytes} bytes`);
  }
  // Compiled here only to refuse what the decoder cannot enforce, with the keyword named (the decoder compiles again).
  compileSchema(schema, { field: 'response_format.json_schema.schema' });
  return { kind: 'json_schema', name: js.name, schemaJson, strict: js.strict === true };
}

export function parseTools(rawTools: unknown, rawChoice: unknown, features: ModelFeatures, model: string, rawParallel?: unknown): ValidTools | undefined {
  if (rawParallel !== undefined && rawParallel !== null && typeof rawParallel !== 'boolean') throw invalidArgument('parallel_tool_calls', 'parallel_tool_calls must be a boolean');
  if ((rawTools === undefined || rawTools === null) && (rawChoice === undefined || rawChoice === null)) return undefined;
  const tools: ValidTool[] = [];
  if (rawTools !== undefined && rawTools !== null) {
    if (!Array.isArray(rawTools)) throw invalidArgument('tools', 'tools must be an array of {"type": "function", "function": {...}}');
    if (rawTools.length > STRUCTURED_LIMITS.maxTools) throw invalidArgument('tools', `too many tools: ${rawTools.length}`, `tools <= ${STRUCTURED_LIMITS.maxTools}`);
    rawTools.forEach((raw, i) => {
      const field = `tools[${i}]`;
      const t = asObject(raw, field);
      if (t.type !== 'function') throw invalidArgument(`${field}.type`, `tool type must be "function", not ${JSON.stringify(t.type)}`);
      const fn = asObject(t.function, `${field}.function`);
      if (typeof fn.name !== 'string' || !NAME.test(fn.name)) throw invalidArgument(`${field}.function.name`, 'function names are 1–64 characters of letters, digits, "_" and "-"', 'length <= 64');
      if (tools.some((x) => x.name === fn.name)) throw invalidArgument(`${field}.function.name`, `duplicate function name "${fn.name}"`);
      if (fn.description !== undefined && typeof fn.description !== 'string') throw invalidArgument(`${field}.function.description`, 'description must be a string');
      if (fn.parameters !== undefined) checkJsonSchema(fn.parameters, `${field}.function.parameters`, 0, true);
      tools.push({ name: fn.name, description: (fn.description as string | undefined) ?? '', parametersJson: fn.parameters === undefined ? '' : JSON.stringify(fn.parameters) });
    });
  }
  const choice = parseToolChoice(rawChoice, tools);
  if (tools.length > 0 && choice !== 'none' && !features.toolCalls) {
    throw invalidArgument('tools', `model "${model}" (${features.familyName}) does not support tool calls: ${features.why ?? 'no tool-call format'}. Remove "tools" (or set "tool_choice": "none")`);
  }
  // A forced call is constrained to the parameters' schema: a keyword the decoder cannot enforce is
  // a 400 naming it here, before anything runs (the decoder compiles the same schema again).
  if (forcedToolSchema(tools, choice) !== undefined) {
    tools.forEach((t, i) => {
      if (choice === 'required' || t.name === choice) compileSchema(t.parametersJson ? JSON.parse(t.parametersJson) : {}, { field: `tools[${i}].function.parameters` });
    });
  }
  return { tools, choice, parallel: rawParallel !== false };
}

function parseToolChoice(raw: unknown, tools: ValidTool[]): string {
  if (raw === undefined || raw === null || raw === 'auto') return '';
  if (raw === 'none' || raw === 'required') {
    if (raw === 'required' && tools.length === 0) throw invalidArgument('tool_choice', 'tool_choice "required" needs at least one tool');
    return raw;
  }
  if (typeof raw === 'object' && !Array.isArray(raw)) {
    const c = raw as Record<string, unknown>;
    const name = c.type === 'function' && c.function && typeof c.function === 'object' ? (c.function as Record<string, unknown>).name : undefined;
    if (typeof name !== 'string') throw invalidArgument('tool_choice', 'tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": …}}');
    if (!tools.some((t) => t.name === name)) throw invalidArgument('tool_choice.function.name', `tool_choice names "${name}", which is not in tools`);
    return name;
  }
  throw invalidArgument('tool_choice', 'tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": …}}');
}

/**
 * Structural validity of a tool's parameter schema (any keyword is allowed: tool arguments are not
 * constrained while decoding, but they must be a JSON Schema): objects or booleans all the way down,
 * known type names, `properties` an object of schemas, `required` an array of strings, `items` a
 * schema (or an array of them), combinators arrays of schemas. The top level must describe an object.
 */
function checkJsonSchema(s: unknown, field: string, depth: number, top = false): void {
  if (depth > 32) throw invalidArgument(field, 'schema nested too deeply', 'schema depth <= 32');
  if (typeof s === 'boolean' && !top) return;
  if (s === null || typeof s !== 'object' || Array.isArray(s)) throw invalidArgument(field, 'not a JSON Schema: expected an object');
  const o = s as Record<string, unknown>;
  if (o.type !== undefined) {
    const list = Array.isArray(o.type) ? o.type : [o.type];
    for (const t of list) if (typeof t !== 'string' || !TYPES.has(t)) throw invalidArgument(`${field}.type`, `not a JSON Schema: unknown type ${JSON.stringify(t)}`);
    if (top && !list.includes('object')) throw invalidArgument(`${field}.type`, 'function parameters must be a JSON Schema of type "object"');
  }
  if (o.properties !== undefined) {
    if (o.properties === null || typeof o.properties !== 'object' || Array.isArray(o.properties)) throw invalidArgument(`${field}.properties`, 'not a JSON Schema: properties must be an object of schemas');
    for (const [k, v] of Object.entries(o.properties)) checkJsonSchema(v, `${field}.properties.${k}`, depth + 1);
  }
  if (o.required !== undefined && (!Array.isArray(o.required) || o.required.some((r) => typeof r !== 'string'))) throw invalidArgument(`${field}.required`, 'not a JSON Schema: required must be an array of strings');
  if (o.items !== undefined) {
    if (Array.isArray(o.items)) o.items.forEach((x, i) => checkJsonSchema(x, `${field}.items[${i}]`, depth + 1));
    else checkJsonSchema(o.items, `${field}.items`, depth + 1);
  }
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (o[k] === undefined) continue;
    if (!Array.isArray(o[k]) || (o[k] as unknown[]).length === 0) throw invalidArgument(`${field}.${k}`, `not a JSON Schema: ${k} must be a non-empty array of schemas`);
    (o[k] as unknown[]).forEach((x, i) => checkJsonSchema(x, `${field}.${k}[${i}]`, depth + 1));
  }
  if (o.additionalProperties !== undefined) checkJsonSchema(o.additionalProperties, `${field}.additionalProperties`, depth + 1);
  if (o.enum !== undefined && !Array.isArray(o.enum)) throw invalidArgument(`${field}.enum`, 'not a JSON Schema: enum must be an array');
}

/** The decoding-contract fields for a validated request (spread into GenerateRequest). */
export function structuredOutputFields(req: { responseFormat?: ValidResponseFormat; tools?: ValidTools }): Pick<decodingV1.GenerateRequest, 'tools' | 'toolChoice'> & Partial<Pick<decodingV1.GenerateRequest, 'responseFormat' | 'parallelToolCalls'>> {
  const rf = req.responseFormat;
  return {
    ...(rf && {
      responseFormat: {
        format: rf.kind === 'json_object' ? { $case: 'jsonObject' as const, jsonObject: {} } : { $case: 'jsonSchema' as const, jsonSchema: { name: rf.name, schemaJson: rf.schemaJson, strict: rf.strict } },
      },
    }),
    tools: req.tools?.tools.map((t) => ({ name: t.name, description: t.description, parametersJson: t.parametersJson })) ?? [],
    toolChoice: req.tools?.choice ?? '',
    ...(req.tools && !req.tools.parallel && { parallelToolCalls: false }),
  };
}
