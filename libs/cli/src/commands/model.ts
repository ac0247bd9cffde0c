export const summary = '(not implemented yet)';
export async function run(_argv: string[]): Promise<number> {
  console.error('tessera model: not implemented yet');
  return 2;
}
