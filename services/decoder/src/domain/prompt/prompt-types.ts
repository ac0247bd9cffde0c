/** Domain shapes of a prompt before tokenisation (transport-neutral mirror of decoding.v1). */
export type PromptPart = { kind: 'text'; text: string } | { kind: 'image'; imageIndex: number };

export type Role = 'system' | 'user' | 'assistant';

export interface PromptMessage {
  role: Role;
  parts: PromptPart[];
}

/** One image's resampler output and its slice grid. */
export interface PromptImage {
  /** [images, queryNum, hidden] row-major float32; images = 1 + cols·rows. */
  tokens: Float32Array;
  /** Shape as received, checked against the grid and the model. */
  shape: number[];
  gridCols: number;
  gridRows: number;
  useImageId: boolean;
}

export interface PromptInput {
  /** Chat messages (the chat template is applied) … */
  messages?: PromptMessage[];
  /** … or raw parts used verbatim. */
  prompt?: PromptPart[];
  images: PromptImage[];
}
