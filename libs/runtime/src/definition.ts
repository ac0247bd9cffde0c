/**
 * Service definitions: the shape ts-proto emits with `outputServices=grpc-js` (and that grpc-js
 * itself uses), so any generated `XxxService` constant can be bound to every transport.
 */
import type { CallContext } from './context.js';

export interface MethodDefinition<Req = any, Res = any> {
  /** `/tessera.slicer.v1.SlicerService/Slice` */
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  requestSerialize(value: Req): Buffer;
  requestDeserialize(bytes: Buffer): Req;
  responseSerialize(value: Res): Buffer;
  responseDeserialize(bytes: Buffer): Res;
  readonly originalName?: string;
}

export type ServiceDefinition = { readonly [method: string]: MethodDefinition };

export type RequestOf<M> = M extends { requestDeserialize(bytes: Buffer): infer R } ? R : never;
export type ResponseOf<M> = M extends { responseDeserialize(bytes: Buffer): infer R } ? R : never;

/** Unary methods return a promise; server-streaming methods return an async iterable. */
export type MethodImpl<M> = M extends { responseStream: true }
  ? (request: RequestOf<M>, ctx: CallContext) => AsyncIterable<ResponseOf<M>>
  : (request: RequestOf<M>, ctx: CallContext) => Promise<ResponseOf<M>>;

/** One implementation of a generated service, written once and bound to gRPC and NATS. */
export type ServiceImpl<D extends ServiceDefinition> = { [K in keyof D]: MethodImpl<D[K]> };

/** The method name as written in the .proto (`Slice`), taken from the path. */
export interface MethodInfo {
  /** Property key in the definition object (`slice`). */
  readonly key: string;
  readonly def: MethodDefinition;
  /** `tessera.slicer.v1` */
  readonly pkg: string;
  /** `SlicerService` */
  readonly service: string;
  /** `tessera.slicer.v1.SlicerService` */
  readonly fullService: string;
  /** `Slice` */
  readonly method: string;
  readonly path: string;
}

export function methodsOf(def: ServiceDefinition): MethodInfo[] {
  const out: MethodInfo[] = [];
  for (const [key, m] of Object.entries(def)) {
    const match = /^\/([^/]+)\/([^/]+)$/.exec(m.path);
    if (!match) throw new Error(`method ${key}: path ${JSON.stringify(m.path)} is not /package.Service/Method`);
    const fullService = match[1]!;
    const dot = fullService.lastIndexOf('.');
    if (m.requestStream) throw new Error(`method ${key}: client-streaming methods are not supported by @tessera/runtime`);
    out.push({
      key,
      def: m,
      pkg: dot < 0 ? '' : fullService.slice(0, dot),
      service: dot < 0 ? fullService : fullService.slice(dot + 1),
      fullService,
      method: m.originalName ?? match[2]!,
      path: m.path,
    });
  }
  if (out.length === 0) throw new Error('service definition has no methods');
  const services = new Set(out.map((m) => m.fullService));
  if (services.size !== 1) throw new Error(`service definition mixes services: ${[...services].join(', ')}`);
  return out;
}

/** `tessera.slicer.v1.SlicerService` for a definition. */
export function fullServiceName(def: ServiceDefinition): string {
  return methodsOf(def)[0]!.fullService;
}
