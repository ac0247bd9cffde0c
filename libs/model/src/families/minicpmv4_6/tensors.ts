/** Every tensor a MiniCPM-V 4.6 checkpoint must have: vision + merger (vision-tensors.ts) and text. */
import type { ExpectedTensor } from '../../checkpoint/tensor-inventory.js';
import type { MiniCPMV46Config } from './config.js';
import { textTensors46 } from './text-tensors.js';
import { visionTensors46 } from './vision-tensors.js';

export function expectedTensors46(cfg: MiniCPMV46Config): ExpectedTensor[] {
  return [...visionTensors46(cfg), ...textTensors46(cfg.text)];
}
