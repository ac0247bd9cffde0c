export { startLocalStack, SERVICE_NAMES, REPO_ROOT, type StackOptions, type RunningStack, type ServiceName, type ServiceProcess } from './stack.js';
export { checkGrpcHealth } from './grpc-health.js';
