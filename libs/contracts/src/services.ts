/**
 * The registry of Tessera services: full protobuf name, generated grpc-js definition and the
 * .proto files that describe it (for @grpc/reflection, which needs a proto-loader definition).
 */
import { fileURLToPath } from 'node:url';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { SlicerServiceService } from './gen/tessera/vision/v1/vision.js';
import { ResamplerServiceService } from './gen/tessera/resampling/v1/resampling.js';
import { DecoderServiceService } from './gen/tessera/decoding/v1/decoding.js';
import { RetrievalServiceService } from './gen/tessera/retrieval/v1/retrieval.js';
import { FeedbackServiceService } from './gen/tessera/feedback/v1/feedback.js';
import { GatewayServiceService } from './gen/tessera/gateway/v1/gateway.js';

/**
 * Absolute path of the repository's `proto/` directory (no trailing slash): the include root for
 * every path in PROTO_FILES. Well-known types (google/protobuf/*.proto) are not in it; proto-loader
 * (protobufjs) ships them.
 */
export const PROTO_ROOT: string = fileURLToPath(new URL('../../../proto', import.meta.url));

/** Each domain's .proto file, relative to PROTO_ROOT. */
export const PROTO_FILES = Object.freeze({
  common: 'tessera/common/v1/common.proto',
  vision: 'tessera/vision/v1/vision.proto',
  resampling: 'tessera/resampling/v1/resampling.proto',
  decoding: 'tessera/decoding/v1/decoding.proto',
  retrieval: 'tessera/retrieval/v1/retrieval.proto',
  feedback: 'tessera/feedback/v1/feedback.proto',
  gateway: 'tessera/gateway/v1/gateway.proto',
} as const);

export interface ServiceEntry<D extends ServiceDefinition = ServiceDefinition> {
  /** Fully qualified protobuf name, e.g. "tessera.vision.v1.SlicerService" (gRPC path prefix,
   *  grpc.health.v1 service name, NATS control subject prefix). */
  readonly name: string;
  /** The ts-proto grpc-js service definition (method paths, streaming flags, (de)serializers),
   *  with its precise type: `SERVICES.decoder.definition` is `typeof decodingV1.DecoderServiceService`. */
  readonly definition: D;
  /** The service's .proto file first, then its imports, relative to PROTO_ROOT. */
  readonly protoFiles: readonly string[];
  /** Default gRPC port (TESSERA_GRPC_PORT overrides it). */
  readonly defaultGrpcPort: number;
}

function entry<D extends ServiceDefinition>(name: string, definition: D, files: readonly string[], port: number): ServiceEntry<D> {
  return Object.freeze({
    name,
    definition,
    protoFiles: Object.freeze([...files, PROTO_FILES.common]),
    defaultGrpcPort: port,
  });
}

/** Every Tessera service, keyed by its short name (also its stage / deployment name). */
export const SERVICES = Object.freeze({
  gateway: entry('tessera.gateway.v1.GatewayService', GatewayServiceService, [PROTO_FILES.gateway, PROTO_FILES.feedback], 50051),
  slicer: entry('tessera.vision.v1.SlicerService', SlicerServiceService, [PROTO_FILES.vision], 50052),
  resampler: entry('tessera.resampling.v1.ResamplerService', ResamplerServiceService, [PROTO_FILES.resampling], 50053),
  decoder: entry('tessera.decoding.v1.DecoderService', DecoderServiceService, [PROTO_FILES.decoding], 50054),
  retrieval: entry('tessera.retrieval.v1.RetrievalService', RetrievalServiceService, [PROTO_FILES.retrieval], 50055),
  feedback: entry('tessera.feedback.v1.FeedbackService', FeedbackServiceService, [PROTO_FILES.feedback], 50056),
});

export type ServiceKey = keyof typeof SERVICES;

/** The entry for a fully qualified service name, or undefined. */
export function serviceByName(name: string): ServiceEntry | undefined {
  return Object.values(SERVICES).find((s) => s.name === name);
}
