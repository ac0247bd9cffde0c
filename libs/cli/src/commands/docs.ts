export const summary = '(not implemented yet)';
export async function run(_argv: string[]): Promise<number> {
  console.error('tessera docs: not implemented yet');
  return 2;
}
