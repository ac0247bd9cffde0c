export { startLocalStack, servicesFor, SERVICE_NAMES, REPO_ROOT, type StackOptions, type RunningStack, type ServiceName, type ServiceProcess } from './stack.js';
export { checkGrpcHealth } from './grpc-health.js';
export { stackFamily, tinyModelFor, modelIdFor, familyOfModelDir, STACK_FAMILIES } from './family.js';
export { writeApiKeysFile, type PlainApiKey } from './api-keys.js';
export { startEdgeStack, type EdgeStack, type EdgeStackOptions } from './edge.js';
