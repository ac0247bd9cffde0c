/**
 * What the SDK e2e suites share: the whole stack as processes on the tiny checkpoint with one API key,
 * the official `openai` client pointed at its gateway, and feedback submitted through the gateway once
 * the answer it rates is recorded.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startLocalStack, writeApiKeysFile, type RunningStack, type ServiceName } from '@tessera/local-stack';
import { ensureTinyModel } from '@tessera/model';

export const SDK_MODEL = 'minicpm-v-2_6';

/**
 * `name` is the tenant, the key id and the work folder's prefix; the key is `sk-e2e-<name>`. Each of
 * `otherTenants` gets a key `sk-e2e-<tenant>` of its own tenant (tenant isolation checks).
 */
export async function startSdkStack(name: string, services: readonly ServiceName[], otherTenants: readonly string[] = []): Promise<{ stack: RunningStack; client: OpenAI; key: string }> {
  const key = `sk-e2e-${name}`;
  const modelDir = await ensureTinyModel();
  const dir = mkdtempSync(join(tmpdir(), `tessera-e2e-${name}-`));
  const keysFile = writeApiKeysFile(join(dir, 'keys.json'), [{ id: name, tenant: name, key }, ...otherTenants.map((t) => ({ id: t, tenant: t, key: `sk-e2e-${t}` }))]);
  const stack = await startLocalStack({
    modelDir,
    workDir: dir,
    services,
    env: { TESSERA_INTRA_OP_THREADS: '1' },
    serviceEnv: { gateway: { TESSERA_GATEWAY_API_KEYS_FILE: keysFile, TESSERA_GATEWAY_MODEL_ID: SDK_MODEL } },
  });
  const client = new OpenAI({ apiKey: key, baseURL: `${stack.httpUrl}/v1`, maxRetries: 0, timeout: 120_000 });
  return { stack, client, key };
}

/** `POST /v1/tessera/feedback`; answers are recorded asynchronously after they are sent, so a 404 is retried for up to 10 s. */
export async function submitFeedbackWhenRecorded(stack: RunningStack, key: string, feedback: Record<string, unknown>): Promise<Response> {
  const submit = () => fetch(`${stack.httpUrl}/v1/tessera/feedback`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ feedback }) });
  let res = await submit();
  for (let i = 0; i < 40 && res.status === 404; i++) {
    await new Promise((r) => setTimeout(r, 250));
    res = await submit();
  }
  return res;
}
