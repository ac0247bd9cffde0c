import type { GatewayConfig } from '../../config.js';
import type { ChatLimits } from './limits.js';

export function chatLimitsFrom(c: GatewayConfig): ChatLimits {
  return Object.freeze({
    maxMessages: c.maxMessages,
    maxTextChars: c.maxTextChars,
    maxImagesPerRequest: c.maxImagesPerRequest,
    maxImageBytes: c.maxImageBytes,
    maxTokensLimit: c.maxTokensLimit,
    defaultMaxTokens: c.defaultMaxTokens,
    maxStopSequences: 4,
    maxTopLogprobs: 20,
    maxLogitBias: 300,
    maxSliceNums: c.maxSliceNums,
    maxCollectionK: c.maxCollectionK,
    allowRemoteImages: c.allowRemoteImages,
    remoteImageAllowList: c.remoteImageAllowList.split(',').map((h) => h.trim()).filter(Boolean),
    maxVideosPerRequest: c.maxVideosPerRequest,
    maxVideoFrames: c.maxVideoFrames,
  });
}
