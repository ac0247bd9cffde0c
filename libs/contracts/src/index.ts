/**
 * @tessera/contracts: the generated protobuf types (ts-proto, `src/gen/`, never hand-edited) and
 * where the .proto sources live at run time (gRPC reflection needs the .proto files themselves).
 * Regenerate with `npm run gen`; see README.md for the options and the breaking-change policy.
 */
export * as commonV1 from './gen/tessera/common/v1/common.js';
export * as visionV1 from './gen/tessera/vision/v1/vision.js';
export * as resamplingV1 from './gen/tessera/resampling/v1/resampling.js';
export * as decodingV1 from './gen/tessera/decoding/v1/decoding.js';
export * as retrievalV1 from './gen/tessera/retrieval/v1/retrieval.js';
export * as feedbackV1 from './gen/tessera/feedback/v1/feedback.js';
export * as gatewayV1 from './gen/tessera/gateway/v1/gateway.js';

export {
  PROTO_ROOT,
  PROTO_FILES,
  SERVICES,
  serviceByName,
  type ServiceKey,
  type ServiceEntry,
} from './services.js';

export {
  TENSOR_CONTENT_TYPE,
  DTYPE_BYTES,
  numElements,
  tensorProblem,
  tensorFromArray,
  tensorArray,
  tensorToFloat32,
  float16ToFloat32,
  float32ToFloat16,
  bfloat16ToFloat32,
  float32ToBfloat16,
  type TensorArray,
  type TensorProblem,
} from './tensor.js';

export { ROLE_NAMES, FINISH_REASON_NAMES, roleName, roleFromName, finishReasonName, finishReasonFromName, type RoleName, type FinishReasonName } from './names.js';
export { endHoldingConflict, type EndHoldingFields } from './sampling-rules.js';
