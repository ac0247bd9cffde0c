import type { GatewayConfig } from '../../config.js';
import { DEFAULT_CHAT_LIMITS, type ChatLimits } from './limits.js';

export function chatLimitsFrom(c: GatewayConfig): ChatLimits {
  return Object.freeze({
    maxMessages: c.maxMessages,
    maxTextChars: c.maxTextChars,
    maxImagesPerRequest: c.maxImagesPerRequest,
    maxImageBytes: c.maxImageBytes,
    maxTokensLimit: c.maxTokensLimit,
    maxStopSequences: c.maxStopSequences,
    defaultMaxTokens: c.defaultMaxTokens,
    // The OpenAI API's own bounds, not deployment settings: the same everywhere.
    maxTopLogprobs: DEFAULT_CHAT_LIMITS.maxTopLogprobs,
    maxLogitBias: DEFAULT_CHAT_LIMITS.maxLogitBias,
    maxCompletionLogprobs: DEFAULT_CHAT_LIMITS.maxCompletionLogprobs,
    completionDefaultMaxTokens: DEFAULT_CHAT_LIMITS.completionDefaultMaxTokens,
    maxSliceNums: c.maxSliceNums,
    maxCollectionK: c.maxCollectionK,
    allowRemoteImages: c.allowRemoteImages,
    remoteImageAllowList: c.remoteImageAllowList.split(',').map((h) => h.trim()).filter(Boolean),
    maxVideosPerRequest: c.maxVideosPerRequest,
    maxVideoFrames: c.maxVideoFrames,
    maxChoices: c.maxChoices,
    maxPrompts: c.maxPrompts,
  });
}
