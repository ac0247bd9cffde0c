/**
 * MiniCPM-V 4.5 video through the stages: the frames a `{"type": "video"}` part carries are admitted like
 * images (hash, header checks, image store) with max_slice_nums 1 — the upstream recipe encodes video
 * frames unsliced (`max_slice_nums=1`), so each frame is one overview crop; the slicer encodes every frame
 * (one call each, in parallel on its work queue); the resampler's 3D path (ResampleRequest.group_sizes /
 * temporal_ids, @tessera/vision planVideo: upstream packing and 0.1-s temporal ids) turns each group of up
 * to 6 frames into one 64-token query set. The decoder gets the groups as ImageEmbedding.video and lays
 * them out as one gridless `<image>` per group without `<image_id>` (assemble-prompt45.ts).
 *
 * A long video is resampled in several calls of whole groups, at most `maxFramesPerCall` frames each
 * (gateway TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL, default 37): the resampler refuses a call of more slices
 * than its TESSERA_MAX_SLICES_PER_REQUEST (default 37 = 1 + 36, what one fully sliced image sends) with
 * INVALID_ARGUMENT, so this must not exceed the resampler's limit or every long video fails. Groups are
 * independent query sets, so the split changes no token; each
 * call's answer is its own embedding, and consecutive embeddings render exactly as one (groups are
 * "\n"-joined either way). Video tokens are not put in the encoder cache: its key has no temporal ids
 * or packing, and the resampler refuses `cache` with group_sizes.
 */
import { DEFAULT_VIDEO_LIMITS, planVideo, type VideoLimits, type VideoPlan } from '@tessera/vision';
import { ErrorCode, TesseraError, type CallOptions } from '@tessera/runtime';
import type { decodingV1, resamplingV1 } from '@tessera/contracts';
import type { ValidChatRequest, ValidMessage, VideoSource } from '../openai/valid-request.js';
import type { AdmittedImage, EncodedImage, ImagePipeline } from './image-pipeline.js';
import type { EstimateImage } from './prompt-estimate.js';

export interface AdmittedVideo {
  field: string;
  fps: number;
  /** One admitted (unsliced) image per frame, in time order. */
  frames: AdmittedImage[];
  /** Frames per group and each frame's temporal id (0.1-s units). */
  plan: VideoPlan;
}

export interface EncodedVideo {
  /** One per resampler call, groups in order; the video's part expands to these, consecutively. */
  embeddings: decodingV1.ImageEmbedding[];
  timings: EncodedImage['timings'];
}

export interface VideoPipelineOptions {
  /** Upstream packing constants (frames before packing starts, largest packing). */
  limits?: VideoLimits;
  /**
   * Frames per resampler call (whole groups; a call always carries at least one group of ≤ 6 frames).
   * From config (TESSERA_GATEWAY_VIDEO_FRAMES_PER_CALL); at most the resampler's TESSERA_MAX_SLICES_PER_REQUEST.
   */
  maxFramesPerCall: number;
}

/** Video frames are not sliced (upstream recipe: max_slice_nums=1 for video). */
const FRAME_SLICE_NUMS = 1;

export class VideoPipeline {
  constructor(
    private readonly images: ImagePipeline,
    private readonly modelRevision: string,
    private readonly o: VideoPipelineOptions,
  ) {}

  /** Header checks of every frame (per-tenant pixel limit), then the packing plan; 400s name the frame or field. */
  admit(videos: readonly VideoSource[], maxImagePixels: number): Promise<AdmittedVideo[]> {
    return Promise.all(
      videos.map(async (v) => {
        const frames = await this.images.admit(v.frames, FRAME_SLICE_NUMS, maxImagePixels);
        const sizes = frames.map((f) => ({ width: f.width, height: f.height }));
        const plan = planVideo({ frames: frames.length, fps: v.fps, sizes, ...(v.packing !== undefined && { packing: v.packing }) }, this.o.limits ?? DEFAULT_VIDEO_LIMITS, v.field);
        return { field: v.field, fps: v.fps, frames, plan };
      }),
    );
  }

  async encode(v: AdmittedVideo, call: CallOptions & { tenant: string }): Promise<EncodedVideo> {
    const sliced = await Promise.all(v.frames.map((f) => this.images.slice(f, call)));
    const slices = sliced.map((s, i) => {
      if (s.slices.length !== 1) throw new TesseraError(ErrorCode.INTERNAL, `${v.field}[${i}]: the slicer cut ${s.slices.length} slices from a video frame; max_slice_nums 1 gives one`);
      return s.slices[0]!;
    });
    const calls = resampleCalls(v.plan, this.o.maxFramesPerCall);
    const answers = await Promise.all(
      calls.map((c) =>
        this.images.resample({ slices: slices.slice(c.start, c.start + c.frames), modelRevision: this.modelRevision, imageSha256: '', groupSizes: c.groupSizes, temporalIds: c.temporalIds }, call),
      ),
    );
    const embeddings = answers.map((a: resamplingV1.ResampleResponse, i): decodingV1.ImageEmbedding => {
      if (!a.visualTokens?.data) throw new TesseraError(ErrorCode.INTERNAL, 'resampler returned no visual tokens for a video');
      return { visualTokens: a.visualTokens, gridCols: 0, gridRows: 0, useImageId: false, imageSha256: '', video: { groupSizes: calls[i]!.groupSizes, fps: v.fps } };
    });
    return {
      embeddings,
      timings: {
        preprocessMs: sliced.reduce((n, s) => n + (s.timings?.imagePreprocessMs ?? 0), 0),
        visionEncodeMs: sliced.reduce((n, s) => n + (s.timings?.visionEncodeMs ?? 0), 0),
        resampleMs: answers.reduce((n, a) => n + (a.timings?.resampleMs ?? 0), 0),
      },
    };
  }
}

export interface ResampleCall {
  /** First frame of the call. */
  start: number;
  frames: number;
  groupSizes: number[];
  temporalIds: number[];
}

/** Whole groups, in order, packed into calls of at most `maxFrames` frames (a group is at most 6 frames). */
export function resampleCalls(plan: VideoPlan, maxFrames: number): ResampleCall[] {
  const calls: ResampleCall[] = [];
  let start = 0;
  for (const ids of plan.temporalIds) {
    let c = calls.at(-1);
    if (!c || c.frames + ids.length > maxFrames) {
      c = { start, frames: 0, groupSizes: [], temporalIds: [] };
      calls.push(c);
    }
    c.frames += ids.length;
    c.groupSizes.push(ids.length);
    c.temporalIds.push(...ids);
    start += ids.length;
  }
  return calls;
}

/**
 * For the prompt-token estimate (which walks image placeholders): each video part becomes one gridless
 * image part per group, pointing at extra estimate images appended after the request's images (a
 * frame's own plan: no grid). A request with a video has no `<image_id>` anywhere (see the orchestrator).
 */
export function videoGroupsAsImages(req: ValidChatRequest, images: readonly EstimateImage[], videos: readonly AdmittedVideo[]): { req: ValidChatRequest; images: EstimateImage[] } {
  const all = [...images];
  const firstOf = videos.map((v) => {
    const at = all.length;
    for (let g = 0; g < v.plan.temporalIds.length; g++) all.push({ plan: v.frames[0]!.plan });
    return at;
  });
  const messages: ValidMessage[] = req.messages.map((m) => ({
    ...m,
    parts: m.parts.flatMap((p) => (p.kind === 'video' ? videos[p.index]!.plan.temporalIds.map((_, g) => ({ kind: 'image' as const, index: firstOf[p.index]! + g })) : [p])),
  }));
  return { req: { ...req, messages }, images: all };
}
