/**
 * One tiny family's whole stack for a family e2e file (4.5, 4.6): the generated checkpoint, one API key
 * (tenant `t<family>`), the gateway serving the family's model id, one intra-op thread per service (the
 * e2e runs on a shared 2-core machine). `stop()` ends the processes and removes the work directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelIdFor, startLocalStack, tinyModelFor, writeApiKeysFile, type RunningStack } from '@tessera/local-stack';
import { Tokenizer, type FamilyId } from '@tessera/model';

export interface FamilyStack {
  stack: RunningStack;
  /** The checkpoint's own tokenizer (prompt ids to compare usage with). */
  tok: Tokenizer;
  model: string;
  stop(): Promise<void>;
}

export async function startFamilyStack(family: FamilyId, key: string): Promise<FamilyStack> {
  const modelDir = await tinyModelFor(family);
  const model = modelIdFor(family);
  const tag = family.replace('.', '');
  const dir = mkdtempSync(join(tmpdir(), `tessera-e2e${tag}-`));
  const keysFile = writeApiKeysFile(join(dir, 'keys.json'), [{ id: `k${tag}`, tenant: `t${tag}`, key }], {});
  let stack: RunningStack | undefined;
  const stop = async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    stack = await startLocalStack({
      modelDir,
      workDir: dir,
      env: { TESSERA_INTRA_OP_THREADS: '1' },
      serviceEnv: { gateway: { TESSERA_GATEWAY_API_KEYS_FILE: keysFile, TESSERA_GATEWAY_MODEL_ID: model } },
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { stack, tok: Tokenizer.fromDir(modelDir), model, stop };
}
