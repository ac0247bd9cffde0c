/**
 * The one table between the wire enums `tessera.common.v1.Role` / `FinishReason` and the names the
 * OpenAI surface, the prompt builders and the feedback records use. It had been written five times
 * (gateway gRPC edge, orchestrator, hub uplink, decoder, feedback), and three copies lacked `tool`, so
 * a tool turn became "unknown(4)" over gRPC, UNSPECIFIED on the hub uplink and a refused feedback record.
 */
import { Role, FinishReason } from './gen/tessera/common/v1/common.js';

export type RoleName = 'system' | 'user' | 'assistant' | 'tool';
export const ROLE_NAMES: readonly RoleName[] = ['system', 'user', 'assistant', 'tool'];

const ROLE_BY_NAME: Readonly<Record<RoleName, Role>> = Object.freeze({ system: Role.SYSTEM, user: Role.USER, assistant: Role.ASSISTANT, tool: Role.TOOL });
const ROLE_BY_WIRE = new Map<number, RoleName>(ROLE_NAMES.map((n) => [ROLE_BY_NAME[n], n]));

/** Wire enum → name; undefined for UNSPECIFIED and values this build does not know. */
export function roleName(r: Role | number): RoleName | undefined {
  return ROLE_BY_WIRE.get(r);
}

/** Name → wire enum; undefined for a name that is not a role. */
export function roleFromName(name: string): Role | undefined {
  return (ROLE_BY_NAME as Record<string, Role>)[name];
}

export type FinishReasonName = 'stop' | 'length' | 'cancelled' | 'error';
export const FINISH_REASON_NAMES: readonly FinishReasonName[] = ['stop', 'length', 'cancelled', 'error'];

const FINISH_BY_NAME: Readonly<Record<FinishReasonName, FinishReason>> = Object.freeze({ stop: FinishReason.STOP, length: FinishReason.LENGTH, cancelled: FinishReason.CANCELLED, error: FinishReason.ERROR });
const FINISH_BY_WIRE = new Map<number, FinishReasonName>(FINISH_REASON_NAMES.map((n) => [FINISH_BY_NAME[n], n]));

/** Wire enum → name; undefined for UNSPECIFIED (the stream is not finished) and unknown values. */
export function finishReasonName(f: FinishReason | number): FinishReasonName | undefined {
  return FINISH_BY_WIRE.get(f);
}

/** Name → wire enum; undefined for a name that is not a finish reason. */
export function finishReasonFromName(name: string): FinishReason | undefined {
  return (FINISH_BY_NAME as Record<string, FinishReason>)[name];
}
