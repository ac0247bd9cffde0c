/**
 * Subject and stream names (CONTRIBUTING.md "Shared names"):
 * - control calls: `tessera.<domain>.v1.<Service>.<Method>` (request/reply, queue group = service name)
 * - direct offers of work-queue calls: `<namespace>.v1.<Service>.<Method>` (`workQueue.direct`)
 * - work queue:    `tessera.work.<stage>.<version>.<Service>.<Method>` in stream `TESSERA_<STAGE>`
 *                  (subjects `tessera.work.<stage>.>`), durable pull consumer `<stage>-workers`
 * - poison advisories: `tessera.advisory.poison.<stage>`
 */
import type { MethodInfo } from '../definition.js';

const VERSION_RE = /^v\d+[a-z0-9]*$/;

function splitVersion(pkg: string): { base: string; version: string | undefined } {
  const dot = pkg.lastIndexOf('.');
  const last = dot < 0 ? pkg : pkg.slice(dot + 1);
  if (VERSION_RE.test(last)) return { base: dot < 0 ? '' : pkg.slice(0, dot), version: last };
  return { base: pkg, version: undefined };
}

const join = (...parts: (string | undefined)[]) => parts.filter((p) => p !== undefined && p !== '').join('.');

/**
 * `tessera.slicer.v1.SlicerService.Slice`. A `namespace` replaces the package's base and keeps its
 * version (`tessera.uplink` → `tessera.uplink.v1.GatewayService.ChatCompletion`): a second set of
 * request/reply subjects for the same service that no binding of its ordinary subjects captures
 * (the edge uplink's direct path, libs/edge subjects.ts).
 */
export function controlSubject(info: MethodInfo, namespace?: string): string {
  return namespace === undefined ? join(info.pkg, info.service, info.method) : join(namespace, splitVersion(info.pkg).version, info.service, info.method);
}

/**
 * What a service subscribes to: every version and method of the service (under `namespace` when
 * given, as controlSubject), so unknown methods and versions get an UNIMPLEMENTED reply instead of a
 * silent timeout.
 */
export function serviceWildcard(info: MethodInfo, namespace?: string): string {
  const { base, version } = splitVersion(info.pkg);
  const b = namespace ?? base;
  return version ? join(b, '*', info.service, '*') : join(b, info.service, '*');
}

export function pkgVersion(info: MethodInfo): string {
  return splitVersion(info.pkg).version ?? 'v0';
}

export function workSubject(stage: string, info: MethodInfo): string {
  return `tessera.work.${stage}.${pkgVersion(info)}.${info.service}.${info.method}`;
}

export function workSubjectFilter(stage: string): string {
  return `tessera.work.${stage}.>`;
}

export function streamName(stage: string): string {
  return `TESSERA_${stage.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export function durableName(stage: string): string {
  return `${stage}-workers`;
}

export function poisonAdvisorySubject(stage: string): string {
  return `tessera.advisory.poison.${stage}`;
}

/** Last two tokens of a subject: `[Service, Method]`, and the version token before them. */
export function parseCallSubject(subject: string): { version: string | undefined; service: string; method: string } {
  const t = subject.split('.');
  const method = t[t.length - 1] ?? '';
  const service = t[t.length - 2] ?? '';
  const maybeVersion = t[t.length - 3];
  return { version: maybeVersion !== undefined && VERSION_RE.test(maybeVersion) ? maybeVersion : undefined, service, method };
}
