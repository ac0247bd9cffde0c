/** Every tensor a MiniCPM-V 4.6 checkpoint must have: vision + merger (the vision side's list) and text. */
import type { ExpectedTensor } from '../../checkpoint/tensor-inventory.js';
import { vision46ExpectedTensors } from '../../generate/vision46-tensors.js';
import type { MiniCPMV46Config } from './config.js';
import { textTensors46 } from './text-tensors.js';

export function expectedTensors46(cfg: MiniCPMV46Config): ExpectedTensor[] {
  return [...vision46ExpectedTensors(cfg.vision), ...textTensors46(cfg.text)];
}
