import { createInterface } from 'node:readline/promises';
import { CTL_SUMMARY, runCtl } from '@tessera/ctl';

/** `tessera ctl …`: the operator CLI; all logic lives in @tessera/ctl. */
export const summary = CTL_SUMMARY;

export async function run(argv: string[]): Promise<number> {
  // cordon/drain ask before changing the cluster; without a terminal they need --yes instead.
  const confirm = process.stdin.isTTY
    ? async (question: string): Promise<boolean> => {
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        try {
          return /^y(es)?$/i.test((await rl.question(question)).trim());
        } finally {
          rl.close();
        }
      }
    : undefined;
  return runCtl(argv, { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env, ...(confirm && { confirm }) });
}
