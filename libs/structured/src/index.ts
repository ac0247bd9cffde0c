/**
 * @tessera/structured — structured output for the decoder: JSON Schema (supported subset) → an
 * incremental byte-level matcher → per-step token masks over the tokenizer's vocabulary.
 */
export { compileSchema, JSON_OBJECT_SCHEMA, type SchemaNode, type CompileOptions } from './schema.js';
export { startThreads, step, canEnd, type Thread } from './matcher.js';
export { TokenIndex, type TokenBytesSource } from './token-index.js';
export { JsonConstraint, type LogitsConstraint } from './constraint.js';
export {
  forcedToolSchema,
  hermesToolCallsText,
  hermesToolResponse,
  hermesToolsSection,
  MAX_FORCED_CALLS,
  parseRequiredCalls,
  parseToolCallBody,
  renderToolTurns,
  ToolCallStream,
  type ParsedToolCall,
  type ToolSpec,
  type ToolStreamPiece,
  type ToolTurnMessage,
} from './tool-calls.js';
export { codePointLength, utf16Index, codePointIndex } from './code-points.js';
