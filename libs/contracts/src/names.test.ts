import { describe, expect, it } from 'vitest';
import { commonV1 } from './index.js';
import { FINISH_REASON_NAMES, finishReasonFromName, finishReasonName, ROLE_NAMES, roleFromName, roleName } from './names.js';

const values = (e: Record<string, string | number>) => Object.values(e).filter((v): v is number => typeof v === 'number' && v > 0);

describe('the one role / finish-reason table', () => {
  it('names every wire role, tool included, and round-trips', () => {
    expect(values(commonV1.Role).map((r) => roleName(r))).toEqual(['system', 'user', 'assistant', 'tool']);
    for (const n of ROLE_NAMES) expect(roleName(roleFromName(n)!)).toBe(n);
    expect(roleName(commonV1.Role.UNSPECIFIED)).toBeUndefined();
    expect(roleFromName('developer')).toBeUndefined(); // mapped to system by the OpenAI validator, not here
  });

  it('names every wire finish reason and round-trips; UNSPECIFIED (not finished) has no name', () => {
    expect(values(commonV1.FinishReason).map((f) => finishReasonName(f))).toEqual(['stop', 'length', 'cancelled', 'error']);
    for (const n of FINISH_REASON_NAMES) expect(finishReasonName(finishReasonFromName(n)!)).toBe(n);
    expect(finishReasonName(commonV1.FinishReason.UNSPECIFIED)).toBeUndefined();
  });
});
