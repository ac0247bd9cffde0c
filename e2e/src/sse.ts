/** The reader lives in @tessera/testing (the benches use it too). */
export { readSse } from '@tessera/testing';

export const textOf = (chunks: any[]): string => chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
/** The finish_reason chunk (it carries our `tessera` extension) merged with the usage chunk, if any. */
export const finalOf = (chunks: any[]): any => {
  const usage = chunks.find((c) => c.usage)?.usage;
  return { ...(chunks.find((c) => c.tessera) ?? {}), ...(usage && { usage }) };
};
