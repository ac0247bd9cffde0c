/**
 * Video content parts of an OpenAI chat request (MiniCPM-V 4.5's 3D resampler), validated at the edge:
 *
 *   {"type": "video", "video": ["data:image/jpeg;base64,…", "https://…/f1.jpg", …], "fps": 2, "packing"?: 3}
 *
 * `video` is the list of frames the client sampled (qwen-vl-utils' frame-list form), each an image URL
 * checked exactly like an `image_url` (data: URL or an allowed http(s) URL, byte limit); `fps` is the rate
 * they were sampled at (it decides the temporal ids); `packing` is frames per resampler group (default:
 * the upstream rule, @tessera/vision planVideo). `video_url` (a video file, vLLM's form) is refused: no
 * maintained pure-npm video decoder exists and ffmpeg is out of scope, so the client sends frames.
 */
import { invalidArgument } from '@tessera/runtime';
import type { ChatLimits } from './limits.js';
import type { ModelFeatures } from './response-format.js';
import type { ImageSource, Role, VideoSource } from './valid-request.js';

/** `{"type": "video_url"}`: always a 400 naming the field, saying what to send instead. */
export function refuseVideoUrl(pf: string): never {
  throw invalidArgument(
    `${pf}.video_url`,
    `${pf}.video_url: video files are not decoded here (no maintained pure-npm video decoder; ffmpeg is not part of this deployment); sample the frames yourself and send {"type": "video", "video": [frame image URLs], "fps": <frames per second>}`,
    'type = video with frames',
  );
}

/**
 * `{"type": "video"}` → a VideoSource appended to `videos`; the family must have video input
 * (`features.video`, else a 400 naming the part), frames and videos within the configured limits.
 */
export function parseVideoPart(
  part: Record<string, unknown>,
  pf: string,
  ctx: { role: Role; limits: ChatLimits; features: ModelFeatures; videos: VideoSource[]; parseImageUrl: (url: string, field: string, limits: ChatLimits) => ImageSource },
): VideoSource {
  const { role, limits, features, videos } = ctx;
  if (!features.video) {
    throw invalidArgument(`${pf}.type`, `${pf}: ${features.familyName} has no video input (video needs MiniCPM-V 4.5's 3D resampler); send the frames as image_url parts instead`, 'no video parts for this model');
  }
  if (role !== 'user') throw invalidArgument(`${pf}.type`, `videos are only accepted in user messages, not in ${role} messages`);
  const maxVideos = limits.maxVideosPerRequest;
  if (videos.length >= maxVideos) throw invalidArgument(pf, `too many videos: more than ${maxVideos}`, `videos per request <= ${maxVideos}`);
  const raw = part.video;
  if (!Array.isArray(raw)) throw invalidArgument(`${pf}.video`, `${pf}.video must be an array of frame image URLs (data: or http(s)), in time order`);
  const maxFrames = limits.maxVideoFrames;
  if (raw.length === 0 || raw.length > maxFrames) throw invalidArgument(`${pf}.video`, `${pf}.video has ${raw.length} frames; a video takes 1..${maxFrames} frames (sample fewer)`, `1 <= frames <= ${maxFrames}`);
  if (typeof part.fps !== 'number' || !Number.isFinite(part.fps) || part.fps <= 0 || part.fps > 1000) {
    throw invalidArgument(`${pf}.fps`, `${pf}.fps must be the frames' sampling rate, a number in (0, 1000], got ${JSON.stringify(part.fps)}`, '0 < fps <= 1000');
  }
  const packing = part.packing === undefined || part.packing === null ? undefined : part.packing;
  if (packing !== undefined && (typeof packing !== 'number' || !Number.isInteger(packing))) throw invalidArgument(`${pf}.packing`, `${pf}.packing must be an integer (frames per group)`);
  // Frames last: a data: URL frame is base64-decoded, so the cheap field checks fail first.
  const frames = raw.map((f: unknown, i: number) => {
    const ff = `${pf}.video[${i}]`;
    const url = typeof f === 'string' ? f : typeof f === 'object' && f !== null && typeof (f as { url?: unknown }).url === 'string' ? (f as { url: string }).url : undefined;
    if (url === undefined) throw invalidArgument(ff, `${ff} must be a frame image URL string (data: or http(s))`);
    return ctx.parseImageUrl(url, ff, limits);
  });
  const video: VideoSource = { field: `${pf}.video`, frames, fps: part.fps, ...(packing !== undefined && { packing: packing as number }) };
  videos.push(video);
  return video;
}
