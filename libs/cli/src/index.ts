export { main } from './main.js';
export { ProgressBar } from './progress.js';
export { exportBundle, type BundleExportOptions } from './commands/feedback.js';
