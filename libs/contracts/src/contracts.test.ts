import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ServiceDefinition } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {
  commonV1,
  decodingV1,
  feedbackV1,
  gatewayV1,
  PROTO_FILES,
  PROTO_ROOT,
  resamplingV1,
  retrievalV1,
  SERVICES,
  serviceByName,
  visionV1,
} from './index.js';

interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  fromPartial(object: any): T;
}

/** Encodes, decodes and checks the result equals the (fully defaulted) input. */
function roundTrip<T>(codec: Codec<T>, partial: unknown): T {
  const message = codec.fromPartial(partial);
  const bytes = codec.encode(message).finish();
  expect(bytes.length).toBeGreaterThan(0);
  const decoded = codec.decode(bytes);
  expect(decoded).toEqual(message);
  return decoded;
}

const float32Bytes = (values: number[]) => Buffer.from(new Float32Array(values).buffer);

describe('message round trips', () => {
  it('common: Tensor raw and ref, ErrorInfo, SamplingParams', () => {
    const raw = roundTrip(commonV1.Tensor, {
      dtype: commonV1.Dtype.FLOAT32,
      shape: [2, 3],
      data: { $case: 'raw', raw: float32Bytes([1, 2, 3, 4, 5, 6.5]) },
    });
    expect(raw.data?.$case).toBe('raw');
    if (raw.data?.$case === 'raw') {
      const view = new Float32Array(raw.data.raw.buffer, raw.data.raw.byteOffset, 6);
      expect(Array.from(view)).toEqual([1, 2, 3, 4, 5, 6.5]);
    }
    const ref = roundTrip(commonV1.Tensor, {
      dtype: commonV1.Dtype.BFLOAT16,
      shape: [10, 64, 3584],
      data: { $case: 'ref', ref: { bucket: 'tessera-blobs', key: 'ab'.repeat(32), size: 4_587_520, contentType: 'application/x-tessera-tensor' } },
    });
    expect(ref.data).toEqual({ $case: 'ref', ref: expect.objectContaining({ size: 4_587_520 }) });
    const err = roundTrip(commonV1.ErrorInfo, {
      code: commonV1.ErrorCode.RESOURCE_EXHAUSTED,
      message: 'max_tokens 9000 exceeds 4096',
      field: 'sampling.max_tokens',
      limit: 'max_tokens <= 4096',
      retryAfterMs: 1500,
      metadata: { quota: 'tokens_per_minute' },
    });
    expect(err.code).toBe(8); // gRPC RESOURCE_EXHAUSTED
    const sampling = roundTrip(commonV1.SamplingParams, { temperature: 0, seed: 2 ** 40, stop: ['\n\n'], maxTokens: 16 });
    // Optional scalars keep "set to zero" apart from "unset".
    expect(sampling.temperature).toBe(0);
    expect(sampling.topP).toBeUndefined();
    expect(sampling.seed).toBe(2 ** 40);
  });

  it('vision: SliceAndEncodeResponse with a plan and per-slice features', () => {
    const decoded = roundTrip(visionV1.SliceAndEncodeResponse, {
      plan: {
        sourceSize: { width: 1024, height: 768 },
        overviewSize: { width: 518, height: 392 },
        gridCols: 2,
        gridRows: 2,
        refineSize: { width: 1036, height: 784 },
        sliceBoxes: [0, 1, 2, 3].map((i) => ({ x: (i % 2) * 518, y: Math.floor(i / 2) * 392, width: 518, height: 392 })),
        visualTokenCount: 320,
        queryNum: 64,
        options: { maxSliceNums: 9, scaleResolution: 448, useImageId: true },
      },
      slices: [{ features: { dtype: commonV1.Dtype.FLOAT16, shape: [1036, 1152] }, patchRows: 28, patchCols: 37 }],
      modelRevision: 'tiny-0123abcd',
      imageSha256: 'cd'.repeat(32),
      timings: { visionEncodeMs: 12.5, encoderCacheHit: false },
    });
    expect(decoded.plan?.sliceBoxes).toHaveLength(4);
    expect(decoded.timings?.resampleMs).toBeUndefined();
  });

  it('resampling: ResampleRequest', () => {
    roundTrip(resamplingV1.ResampleRequest, {
      slices: [{ features: { dtype: commonV1.Dtype.FLOAT32, shape: [4, 8], data: { $case: 'raw', raw: float32Bytes(new Array(32).fill(0.25)) } }, patchRows: 2, patchCols: 2 }],
      modelRevision: 'r1',
    });
  });

  it('decoding: GenerateRequest with text and image parts, and a final chunk', () => {
    const req = roundTrip(decodingV1.GenerateRequest, {
      requestId: 'resp_1',
      messages: [
        {
          role: commonV1.Role.USER,
          parts: [
            { part: { $case: 'image', image: { imageIndex: 0 } } },
            { part: { $case: 'text', text: 'How many cats? 猫' } },
          ],
        },
      ],
      images: [{ visualTokens: { dtype: commonV1.Dtype.FLOAT32, shape: [5, 64, 16] }, gridCols: 2, gridRows: 2, useImageId: true }],
      sampling: { temperature: 0.7, topK: 20, logprobs: true, topLogprobs: 2 },
    });
    expect(req.messages[0].parts.map((p) => p.part?.$case)).toEqual(['image', 'text']);
    const chunk = roundTrip(decodingV1.GenerateResponse, {
      textDelta: '',
      tokenIds: [151645],
      logprobs: [{ tokenId: 151645, token: '<|im_end|>', logprob: -0.01, topLogprobs: [{ tokenId: 13, token: '.', logprob: -4.6 }] }],
      finishReason: commonV1.FinishReason.STOP,
      usage: { promptTokens: 400, visualTokens: 320, completionTokens: 12, totalTokens: 412 },
      timings: { prefillMs: 80, timeToFirstTokenMs: 95.5, decodePerTokenMs: 21.25 },
      seed: 7,
    });
    expect(chunk.finishReason).toBe(commonV1.FinishReason.STOP);
  });

  it('retrieval: QueryRequest with a Struct filter, and results', () => {
    const where = { $and: [{ lang: { $in: ['en', 'ja'] } }, { year: { $gte: 2020 } }, { draft: false }] };
    const req = roundTrip(retrievalV1.QueryRequest, {
      collection: 'docs',
      query: { $case: 'text', text: '東京の天気' },
      k: 4,
      where,
      whereDocument: { $contains: 'tokyo' },
      scoreThreshold: 0,
      mode: retrievalV1.SearchMode.MMR,
      mmr: { fetchK: 20, lambda: 0.5 },
    });
    expect(req.where).toEqual(where);
    expect(req.scoreThreshold).toBe(0);
    const res = roundTrip(retrievalV1.QueryResponse, {
      results: [{ id: 'doc-1#0', score: 0.12, relevance: 0.94, metadata: { lang: 'ja' }, text: '晴れ' }],
      distance: retrievalV1.Distance.COSINE,
    });
    expect(res.results[0].metadata).toEqual({ lang: 'ja' });
  });

  it('feedback: span corrections, rating oneof, preference, export rows', () => {
    const fb = roundTrip(feedbackV1.SubmitFeedbackRequest, {
      feedback: {
        feedbackId: '3f1c9a2e-0000-4000-8000-000000000001',
        responseId: 'resp_1',
        rating: { key: 'overall', value: { $case: 'thumbs', thumbs: feedbackV1.Thumbs.DOWN } },
        spans: [{ start: 10, end: 15, original: 'three', replacement: 'two', category: 'object/count', annotator: { id: 'u1', source: feedbackV1.FeedbackSource.HUMAN } }],
        preference: { chosenResponseId: 'resp_2', rejectedResponseId: 'resp_1' },
      },
    });
    expect(fb.feedback?.rating?.value).toEqual({ $case: 'thumbs', thumbs: feedbackV1.Thumbs.DOWN });
    const rec = roundTrip(feedbackV1.RecordResponseRequest, {
      response: {
        responseId: 'resp_1',
        createdAt: new Date('2026-11-23T16:00:00.123Z'),
        messages: [{ role: commonV1.Role.USER, content: [{ part: { $case: 'image', image: { bucket: 'b', key: 'ef'.repeat(32), size: 1000, contentType: 'image/png' } } }] }],
        sampling: { seed: 42 },
        answer: 'There are three cats.',
        confidence: { tokenCount: 6, meanLogprob: -0.4, minLogprob: -2.1, spans: [{ start: 10, end: 15, meanLogprob: -1.9 }] },
      },
    });
    expect(rec.response?.createdAt).toEqual(new Date('2026-11-23T16:00:00.123Z'));
    roundTrip(feedbackV1.ExportResponse, { item: { $case: 'summary', summary: { rows: 10, skipped: 2 } } });
  });

  it('gateway: ChatCompletionRequest with image bytes, url and a collection', () => {
    const req = roundTrip(gatewayV1.ChatCompletionRequest, {
      model: 'tiny',
      messages: [
        {
          role: commonV1.Role.USER,
          content: [
            { part: { $case: 'image', image: { source: { $case: 'data', data: Buffer.from([0xff, 0xd8, 0xff]) }, maxSliceNums: 4 } } },
            { part: { $case: 'image', image: { source: { $case: 'url', url: 'data:image/png;base64,iVBORw0KGgo=' } } } },
            { part: { $case: 'text', text: 'Describe both.' } },
          ],
        },
      ],
      collection: { name: 'docs', k: 3, filter: { lang: 'en' } },
      store: false,
    });
    expect(req.store).toBe(false);
    roundTrip(gatewayV1.ChatCompletionResponse, {
      responseId: 'resp_1',
      sources: [{ index: 1, collection: 'docs', id: 'doc-1#0', text: 'x', relevance: 0.8 }],
      textDelta: 'Hello',
    });
  });
});

/** [method name on the generated definition, gRPC method name, requestStream, responseStream]. */
type MethodSpec = [string, string, boolean, boolean];
const EXPECTED: Record<keyof typeof SERVICES, MethodSpec[]> = {
  gateway: [
    ['chatCompletion', 'ChatCompletion', false, true],
    ['listModels', 'ListModels', false, false],
    ['submitFeedback', 'SubmitFeedback', false, false],
  ],
  slicer: [
    ['sliceAndEncode', 'SliceAndEncode', false, false],
    ['planSlices', 'PlanSlices', false, false],
  ],
  resampler: [['resample', 'Resample', false, false]],
  decoder: [
    ['generate', 'Generate', false, true],
    ['cancel', 'Cancel', false, false],
    ['getEngineStats', 'GetEngineStats', false, false],
  ],
  retrieval: [
    'CreateCollection', 'DeleteCollection', 'ListCollections', 'AddDocuments', 'GetIngestionJob',
    'Upsert', 'Delete', 'Get', 'Count', 'Query', 'Embed',
  ].map((m): MethodSpec => [m[0].toLowerCase() + m.slice(1), m, false, false]),
  feedback: [
    ['recordResponse', 'RecordResponse', false, false],
    ['submitFeedback', 'SubmitFeedback', false, false],
    ['getResponse', 'GetResponse', false, false],
    ['listFeedback', 'ListFeedback', false, false],
    ['export', 'Export', false, true],
    ['reviewQueue', 'ReviewQueue', false, false],
    ['eraseTenant', 'EraseTenant', false, false],
  ],
};

describe('service definitions', () => {
  for (const [key, methods] of Object.entries(EXPECTED) as [keyof typeof SERVICES, MethodSpec[]][]) {
    it(`${key} has exactly the expected methods and streaming flags`, () => {
      const svc = SERVICES[key];
      expect(serviceByName(svc.name)).toBe(svc);
      expect(Object.keys(svc.definition).sort()).toEqual(methods.map((m) => m[0]).sort());
      for (const [jsName, rpc, requestStream, responseStream] of methods) {
        const def = (svc.definition as ServiceDefinition)[jsName];
        expect(def.path).toBe(`/${svc.name}/${rpc}`);
        expect(def.requestStream).toBe(requestStream);
        expect(def.responseStream).toBe(responseStream);
      }
    });
  }

  it('the .proto files under PROTO_ROOT describe the same services (proto-loader, as reflection uses them)', () => {
    for (const file of Object.values(PROTO_FILES)) expect(existsSync(join(PROTO_ROOT, file))).toBe(true);
    for (const svc of Object.values(SERVICES)) {
      const pkg = protoLoader.loadSync([...svc.protoFiles], { includeDirs: [PROTO_ROOT] });
      const loaded = pkg[svc.name] as protoLoader.ServiceDefinition;
      expect(loaded, svc.name).toBeDefined();
      const flags = (d: Record<string, { path: string; requestStream: boolean; responseStream: boolean }>) =>
        Object.values(d).map((m) => `${m.path} ${m.requestStream} ${m.responseStream}`).sort();
      expect(flags(loaded)).toEqual(flags(svc.definition as never));
    }
  });

  it('a generated serializer and the .proto agree on the wire format', () => {
    // Encode with ts-proto, decode with proto-loader's protobufjs from the .proto source.
    const pkg = protoLoader.loadSync([...SERVICES.decoder.protoFiles], { includeDirs: [PROTO_ROOT], keepCase: true, enums: String });
    const generate = (pkg['tessera.decoding.v1.DecoderService'] as protoLoader.ServiceDefinition).Generate;
    const bytes = decodingV1.GenerateResponse.encode(
      decodingV1.GenerateResponse.fromPartial({ textDelta: 'hi', tokenIds: [1, 2], finishReason: commonV1.FinishReason.LENGTH }),
    ).finish();
    const viaProto = generate.responseDeserialize(Buffer.from(bytes)) as Record<string, unknown>;
    expect(viaProto).toMatchObject({ text_delta: 'hi', token_ids: [1, 2], finish_reason: 'FINISH_REASON_LENGTH' });
  });
});

describe('registry typing', () => {
  it('SERVICES keeps each definition\'s precise type', () => {
    // Compile-time check: no cast needed to reach a method's typed serializer.
    const def: typeof decodingV1.DecoderServiceService = SERVICES.decoder.definition;
    const bytes = def.generate.requestSerialize(decodingV1.GenerateRequest.fromPartial({ requestId: 'r' }));
    expect(def.generate.requestDeserialize(bytes).requestId).toBe('r');
  });
});

describe('gRPC reflection from the shipped .proto files', () => {
  it('serves each service and resolves its file with imports (well-known types included)', async () => {
    const grpc = await import('@grpc/grpc-js');
    const { ReflectionService } = await import('@grpc/reflection');
    const server = new grpc.Server();
    const options = { includeDirs: [PROTO_ROOT], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
    // Every service's file set builds a reflection index (throws on an unresolved type).
    for (const svc of Object.values(SERVICES)) new ReflectionService(protoLoader.loadSync([...svc.protoFiles], options), { services: [svc.name] });
    // Serve the gateway's: it imports feedback.proto, so without `services` reflection would also
    // list FeedbackService, which the gateway does not serve.
    const gw = protoLoader.loadSync([...SERVICES.gateway.protoFiles], options);
    new ReflectionService(gw, { services: [SERVICES.gateway.name] }).addToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    try {
      const reflectionRoot = join(createRequire(import.meta.url).resolve('@grpc/reflection'), '../../proto');
      const rpkg = protoLoader.loadSync('grpc/reflection/v1/reflection.proto', { keepCase: true, oneofs: true, includeDirs: [reflectionRoot] });
      const Client = (grpc.loadPackageDefinition(rpkg) as any).grpc.reflection.v1.ServerReflection;
      const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      const replies: any[] = await new Promise((resolve, reject) => {
        const out: any[] = [];
        const call = client.ServerReflectionInfo();
        call.on('data', (d: unknown) => {
          out.push(d);
          if (out.length === 2) call.end();
        });
        call.on('end', () => resolve(out));
        call.on('error', reject);
        call.write({ list_services: '' });
        call.write({ file_containing_symbol: 'tessera.gateway.v1.ChatCompletionRequest' });
      });
      client.close();
      expect(replies[0].list_services_response.service.map((s: { name: string }) => s.name)).toEqual([SERVICES.gateway.name]);
      const files = replies[1].file_descriptor_response.file_descriptor_proto as Buffer[];
      // The symbol's file and its dependencies come back (@grpc/reflection renames files after their
      // package); a serialized FileDescriptorProto holds its package name as a plain string.
      const text = files.map((b) => Buffer.from(b).toString('latin1')).join('\n');
      for (const pkgName of ['tessera.gateway.v1', 'tessera.common.v1', 'tessera.feedback.v1', 'google.protobuf']) {
        expect(text).toContain(pkgName);
      }
      expect(text).toContain('ChatCompletionRequest');
    } finally {
      server.forceShutdown();
    }
  });
});
