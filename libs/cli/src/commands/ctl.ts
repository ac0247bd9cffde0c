import { CTL_SUMMARY, runCtl } from '@tessera/ctl';

/** `tessera ctl …`: the operator CLI; all logic lives in @tessera/ctl. */
export const summary = CTL_SUMMARY;

export async function run(argv: string[]): Promise<number> {
  return runCtl(argv, { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env });
}
