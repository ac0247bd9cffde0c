/**
 * One environment per stage, from the combined process's one environment. Every stage reads the
 * shared variables (NATS_URL, TESSERA_MODEL_DIR, TESSERA_EXECUTION_PROVIDER, the service token, …)
 * and `<STAGE>__<VARIABLE>` overrides them for that stage alone, e.g. `DECODER__TESSERA_MAX_CONCURRENCY=8`,
 * `SLICER__NATS_USER=slicer` (each stage logs in to NATS as its own user, with its own permissions).
 *
 * The variables that name a process, not a configuration, are never inherited: OTEL_SERVICE_NAME is
 * a stage's NATS queue group (a combined slicer must share `slicer` with standalone slicers, or both
 * would receive every request), TESSERA_GRPC_PORT would make three servers race for one port,
 * TESSERA_METRICS_PORT is the combined process's one /metrics endpoint, and NATS_INBOX_PREFIX is
 * derived per NATS user. A stage takes them only from its own prefix, else its service's default
 * (slicer 50052, resampler 50053, decoder 50054).
 */
export const STAGE_NAMES = ['slicer', 'resampler', 'decoder'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export const PROCESS_ONLY_VARIABLES: readonly string[] = ['OTEL_SERVICE_NAME', 'TESSERA_GRPC_PORT', 'TESSERA_METRICS_PORT', 'NATS_INBOX_PREFIX'];

/** `DECODER__` for the decoder. */
export const stagePrefix = (stage: StageName): string => `${stage.toUpperCase()}__`;

export type Env = Readonly<Record<string, string | undefined>>;

export function stageEnv(stage: StageName, env: Env): Record<string, string | undefined> {
  const prefixes = STAGE_NAMES.map(stagePrefix);
  const own = stagePrefix(stage);
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    if (!PROCESS_ONLY_VARIABLES.includes(k) && !prefixes.some((p) => k.startsWith(p))) out[k] = v;
  }
  for (const [k, v] of Object.entries(env)) if (k.startsWith(own) && k.length > own.length) out[k.slice(own.length)] = v;
  return out;
}

/** The variable an operator set for `stage`'s `variable`: the prefixed one when present (for error messages). */
export function stageVariable(stage: StageName, variable: string, env: Env): string {
  return env[stagePrefix(stage) + variable] !== undefined ? stagePrefix(stage) + variable : `${variable} (stage ${stage})`;
}
