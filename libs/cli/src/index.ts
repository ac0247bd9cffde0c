export { main } from './main.js';
export { ProgressBar } from './progress.js';
