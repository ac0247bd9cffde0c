/**
 * Which MiniCPM-V family a local stack serves: `TESSERA_FAMILY` = 2.6 (default) or 4.6 picks the tiny
 * generated checkpoint and the model id the demo asks for; a built model's own manifest says which
 * services it needs (4.6 has no resampler stage, so no resampler process is started).
 */
import { ensureTinyModel, ensureTinyModel45Paths, ensureTinyModel46Paths, manifestFamily, readAnyManifest, type FamilyId } from '@tessera/model';
import { ErrorCode, TesseraError } from '@tessera/runtime';

export const STACK_FAMILIES: readonly FamilyId[] = ['2.6', '4.6'];

/** `TESSERA_FAMILY` (unset = 2.6); anything else is refused naming the variable. */
export function stackFamily(env: NodeJS.ProcessEnv = process.env): FamilyId {
  const v = env.TESSERA_FAMILY;
  if (v === undefined || v === '') return '2.6';
  if (!(STACK_FAMILIES as readonly string[]).includes(v)) {
    throw new TesseraError(ErrorCode.INVALID_ARGUMENT, `TESSERA_FAMILY=${JSON.stringify(v)} is not a served family (${STACK_FAMILIES.join(', ')})`, { field: 'TESSERA_FAMILY', limit: STACK_FAMILIES.join('|') });
  }
  return v as FamilyId;
}

/** The tiny generated model of a family (generated and built once per machine). */
export async function tinyModelFor(family: FamilyId): Promise<string> {
  if (family === '4.6') return (await ensureTinyModel46Paths()).model;
  if (family === '4.5') return (await ensureTinyModel45Paths()).model;
  return ensureTinyModel();
}

/** The OpenAI model id the gateway serves a family under (TESSERA_GATEWAY_MODEL_ID). */
export const modelIdFor = (family: FamilyId): string => `minicpm-v-${family.replace('.', '_')}`;

/** The family a built model directory was built for. */
export const familyOfModelDir = (modelDir: string): FamilyId => manifestFamily(readAnyManifest(modelDir));
