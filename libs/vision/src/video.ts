/**
 * MiniCPM-V 4.5 video: frames → resampler groups with temporal ids, the rule of the upstream 4.5 recipe
 * (`encode_video` in the 4.5 README / vLLM example, read from public copies) applied to frames the client
 * has already sampled at `fps` frames per second:
 *  - frame i is at t_i = i / fps; its temporal id is the index of the nearest point of the 0.1-s grid
 *    `arange(0, duration, 0.1)` (duration = frames / fps), i.e. TIME_SCALE = 0.1 s;
 *  - packing: frames ≤ MAX_NUM_FRAMES (180) → 1 frame per group; more → ceil(frames / 180) frames per
 *    group, at most MAX_NUM_PACKING (3; the recipe's valid range is 1…6). Upstream resamples longer
 *    videos down to 180 × 3 frames; here such a request is refused naming the limit (the client samples);
 *  - groups are consecutive frames (`group_array(ids, packing)`; the last group may be shorter). Each group
 *    is ONE resampler query set → 64 tokens and one `<image>…</image>` placeholder without `<image_id>`
 *    (`use_image_id=False`, `max_slice_nums=1` for video, as the recipe calls `chat`).
 * The frames of one video must have one size (a decoded video's frames do; the 3D resampler concatenates
 * a group's keys, and the processor takes the first frame's size for the group's placeholder).
 */
import { invalidArgument } from '@tessera/errors';

/** Upstream constants (4.5 recipe): the defaults of VideoLimits. */
export const VIDEO_TIME_SCALE = 0.1;
export const HARD_MAX_PACKING = 6;

export interface VideoLimits {
  /** Frames before packing starts (upstream MAX_NUM_FRAMES, default 180). */
  maxFrames: number;
  /** Largest frames-per-group (upstream MAX_NUM_PACKING, default 3; at most 6). */
  maxPacking: number;
}

export const DEFAULT_VIDEO_LIMITS: Readonly<VideoLimits> = Object.freeze({ maxFrames: 180, maxPacking: 3 });

export interface VideoRequest {
  /** Number of frames sent. */
  frames: number;
  /** Sampling rate of the frames sent (frames per second), > 0. */
  fps: number;
  /** Frames per group requested (upstream `force_packing`); default: the upstream rule. */
  packing?: number;
  /** Each frame's size, to check they agree (optional). */
  sizes?: Array<{ width: number; height: number }>;
}

export interface VideoPlan {
  packing: number;
  /** Temporal ids per group, frames in order (upstream `frame_ts_id_group`). */
  temporalIds: number[][];
}

/**
 * Plans a video's groups. `field` names the request field in errors (e.g. `messages[0].content[1].video`).
 * Throws INVALID_ARGUMENT naming the field and limit: no frames, too many frames, fps ≤ 0, packing out of
 * range, frames of different sizes.
 */
export function planVideo(req: VideoRequest, limits: VideoLimits = DEFAULT_VIDEO_LIMITS, field = 'video'): VideoPlan {
  const maxPacking = Math.min(limits.maxPacking, HARD_MAX_PACKING);
  const cap = limits.maxFrames * maxPacking;
  const n = req.frames;
  if (!Number.isInteger(n) || n < 1 || n > cap) {
    throw invalidArgument(field, `${field}: ${n} frames; a video takes 1..${cap} frames (${limits.maxFrames} frames × packing ${maxPacking}); sample fewer frames`, `1 <= frames <= ${cap}`);
  }
  if (!(Number.isFinite(req.fps) && req.fps > 0 && req.fps <= 1000)) throw invalidArgument(`${field}.fps`, `${field}.fps must be a number in (0, 1000], got ${req.fps}`, '0 < fps <= 1000');
  if (req.sizes) {
    const s0 = req.sizes[0]!;
    req.sizes.forEach((s, i) => {
      if (s.width !== s0.width || s.height !== s0.height) {
        throw invalidArgument(`${field}[${i}]`, `${field}[${i}] is ${s.width}×${s.height}; every frame of a video must have the first frame's size ${s0.width}×${s0.height}`, `size = ${s0.width}x${s0.height}`);
      }
    });
  }
  let packing = n <= limits.maxFrames ? 1 : Math.ceil(n / limits.maxFrames);
  if (req.packing !== undefined) {
    if (!Number.isInteger(req.packing) || req.packing < 1 || req.packing > maxPacking) {
      throw invalidArgument(`${field}.packing`, `${field}.packing must be an integer in 1..${maxPacking}, got ${req.packing}`, `1 <= packing <= ${maxPacking}`);
    }
    packing = req.packing;
  }
  const ids = frameTemporalIds(n, req.fps);
  const temporalIds: number[][] = [];
  for (let i = 0; i < n; i += packing) temporalIds.push(ids.slice(i, i + packing));
  return { packing, temporalIds };
}

/**
 * Temporal ids of n frames sampled at fps: nearest point of numpy's `arange(0, n/fps, 0.1)` (computed
 * k·0.1 in double, as arange does), divided by 0.1 and truncated like `.astype(np.int32)`. Ties go to the
 * upper grid point (cKDTree's choice on an exact tie was not checked; ties need fps dividing 20).
 */
export function frameTemporalIds(n: number, fps: number): number[] {
  const duration = n / fps;
  const points = Math.ceil(duration / VIDEO_TIME_SCALE);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = i / fps;
    let k = Math.min(points - 1, Math.max(0, Math.round(t / VIDEO_TIME_SCALE)));
    // Exact nearest on the double grid (Math.round can land one off where k·0.1 is not exact).
    for (const c of [k - 1, k + 1]) if (c >= 0 && c < points && Math.abs(c * VIDEO_TIME_SCALE - t) < Math.abs(k * VIDEO_TIME_SCALE - t)) k = c;
    out.push(Math.trunc((k * VIDEO_TIME_SCALE) / VIDEO_TIME_SCALE));
  }
  return out;
}
