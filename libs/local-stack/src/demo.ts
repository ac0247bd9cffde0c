/**
 * README command 1: the main job on one machine. Generates (or builds) the model, boots nats-server
 * and every service as separate processes, sends an image + question to the OpenAI-compatible API,
 * prints the streamed answer and per-stage timings. `--serve` keeps the stack up for your own calls.
 *
 *   bash scripts/demo.sh [--serve] [--question "..."] [--image FILE]
 *   TESSERA_CHECKPOINT=/models/MiniCPM-V-2_6 bash scripts/demo.sh   # a real checkpoint, same code path
 *   TESSERA_FAMILY=4.6 bash scripts/demo.sh [--mode 4x]              # tiny MiniCPM-V 4.6 (no resampler)
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildModel, readAnyManifest } from '@tessera/model';
import { familyOfModelDir, modelIdFor, stackFamily, tinyModelFor } from './family.js';
import { REPO_ROOT, startLocalStack } from './stack.js';
import { sampleImage } from './sample-image.js';
import { writeApiKeysFile } from './api-keys.js';
import { ensureWebBuild } from '@tessera/web';

const DEMO_KEY = 'sk-tessera-local-demo';

const { values } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    question: { type: 'string', default: 'Describe this picture in one sentence.' },
    image: { type: 'string' },
    'max-tokens': { type: 'string', default: '48' },
    verbose: { type: 'boolean', default: false },
    /** MiniCPM-V 4.6 token mode (mm_processor_kwargs.downsample_mode): 16x (default) or 4x. */
    mode: { type: 'string' },
  },
});

async function modelDir(): Promise<{ dir: string; real: boolean }> {
  const ckpt = process.env.TESSERA_CHECKPOINT;
  if (!ckpt) {
    const family = stackFamily();
    step(`generating the tiny MiniCPM-V ${family} checkpoint (seeded random weights) and building its ONNX stages`);
    return { dir: await tinyModelFor(family), real: false };
  }
  const out = join(REPO_ROOT, '.tessera', 'models', `${basename(resolve(ckpt))}-onnx`);
  if (!existsSync(join(out, 'manifest.json'))) {
    step(`building ONNX stages from ${ckpt} into ${out} (a 16 GB checkpoint takes minutes)`);
    await buildModel(ckpt, out);
  }
  return { dir: out, real: true };
}

function step(msg: string): void {
  process.stderr.write(`\n\x1b[1m▸ ${msg}\x1b[0m\n`);
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const [{ dir, real }] = await Promise.all([modelDir(), ensureWebBuild()]); // the playground the gateway serves at /
  const manifest = readAnyManifest(dir);
  const family = familyOfModelDir(dir);
  const modelId = modelIdFor(family);
  const work = join(REPO_ROOT, '.tessera', 'demo');
  mkdirSync(work, { recursive: true });
  const keysFile = writeApiKeysFile(join(work, 'api-keys.json'), [{ id: 'local-demo', tenant: 'demo', key: DEMO_KEY }], { demo: { requestsPerMinute: 600 } });
  const httpPort = values.serve ? 8080 : 0; // 0: the gateway binds a free port and reports it
  step(`starting nats-server and the services as processes (MiniCPM-V ${family}${family === '4.6' ? ', no resampler' : ''}, model revision ${manifest.revision.slice(0, 12)})`);
  const stack = await startLocalStack({
    modelDir: dir,
    workDir: join(work, `run-${Date.now()}`),
    httpPort,
    serviceEnv: { gateway: { TESSERA_GATEWAY_API_KEYS_FILE: keysFile, TESSERA_GATEWAY_MODEL_ID: modelId } },
    echoLogs: values.verbose,
  });
  const shutdown = async () => {
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  step(`stack up in ${((Date.now() - t0) / 1000).toFixed(1)} s: HTTP ${stack.httpUrl}, gRPC ${stack.grpcAddress}, NATS ${stack.natsUrl}`);

  const image = values.image ? readFileSync(values.image) : await sampleImage();
  const mime = values.image?.toLowerCase().endsWith('.png') || !values.image ? 'image/png' : 'image/jpeg';
  step(`asking: "${values.question}" about ${values.image ?? 'a generated 1344×896 landscape'}`);
  if (!real) process.stderr.write('  (the tiny model has random weights: the answer is gibberish by design; the path it takes is real)\n');
  const res = await fetch(`${stack.httpUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${DEMO_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: modelId,
      stream: true,
      ...(values.mode && { mm_processor_kwargs: { downsample_mode: values.mode } }),
      stream_options: { include_usage: true },
      max_tokens: Number(values['max-tokens']),
      seed: 42,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:${mime};base64,${image.toString('base64')}` } }, { type: 'text', text: values.question }] }],
    }),
  });
  if (!res.ok || !res.body) {
    console.error(`request failed: HTTP ${res.status} ${await res.text()}`);
    await stack.stop();
    process.exit(1);
  }
  process.stdout.write('\nanswer: ');
  let tail: any;
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += Buffer.from(chunk).toString('utf8');
    let i;
    while ((i = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, i).replace(/^data: /, '');
      buffer = buffer.slice(i + 2);
      if (event === '[DONE]') continue;
      const data = JSON.parse(event);
      if (data.error) throw new Error(data.error.message);
      const delta = data.choices?.[0]?.delta?.content;
      if (delta) process.stdout.write(delta);
      // usage rides on its own `choices: []` chunk, our timings on the finish_reason chunk.
      if (data.usage || data.tessera) tail = { ...tail, ...(data.usage && { usage: data.usage }), ...(data.tessera && { tessera: data.tessera }) };
    }
  }
  process.stdout.write('\n\n');
  if (tail?.usage) console.log(`usage: ${tail.usage.prompt_tokens} prompt tokens (${tail.usage.prompt_tokens_details?.image_tokens ?? 0} visual), ${tail.usage.completion_tokens} completion tokens`);
  if (tail?.tessera?.timings_ms) {
    console.log('per-stage timings (ms):');
    for (const [k, v] of Object.entries(tail.tessera.timings_ms as Record<string, number>)) console.log(`  ${k.padEnd(26)} ${typeof v === 'number' ? v.toFixed(1) : v}`);
  }
  console.log(`response id: ${res.headers.get('x-response-id')}`);

  if (!values.serve) {
    await stack.stop();
    return;
  }
  step(`the stack keeps running; press Ctrl-C to stop. Playground: ${stack.httpUrl}/ (key ${DEMO_KEY}). Try:`);
  console.log(`  curl -s ${stack.httpUrl}/v1/models -H 'Authorization: Bearer ${DEMO_KEY}'`);
  console.log(`  curl -sN ${stack.httpUrl}/v1/chat/completions -H 'Authorization: Bearer ${DEMO_KEY}' -H 'Content-Type: application/json' \\\n    -d '{"model":"${modelId}","stream":true,"messages":[{"role":"user","content":"Hello!"}]}'`);
  await new Promise(() => {});
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
