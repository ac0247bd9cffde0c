// Plain-JS entry for the preprocessing worker thread: registers tsx so the TypeScript body loads
// the same way in `node --import tsx`, in vitest and in the benchmark.
import { register } from 'tsx/esm/api';
register();
await import('./preprocess-worker-main.ts');
