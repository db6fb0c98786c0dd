// /healthz's verdict (daemon/health.ts): healthy only while the loop runs and no group is halted.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CYCLE_STUCK_MS, healthOf } from '../../../src/daemon/health.ts';

const CASES = [
  { description: 'idle, nothing halted: ok', input: { stopping: false, cycleStartedAtMs: undefined, nowMs: 1e6, halts: [] }, reasons: [] },
  { description: 'a cycle running for a while: ok', input: { stopping: false, cycleStartedAtMs: 1e6 - 60_000, nowMs: 1e6, halts: [] }, reasons: [] },
  { description: 'a cycle running past the bound: stuck', input: { stopping: false, cycleStartedAtMs: 0, nowMs: CYCLE_STUCK_MS + 1000, halts: [] }, reasons: [`work cycle running for ${CYCLE_STUCK_MS / 1000 + 1} s (stuck?)`] },
  { description: 'a halted group: its reason', input: { stopping: false, cycleStartedAtMs: undefined, nowMs: 1, halts: [{ group: 'www', message: 'root vanished' }] }, reasons: ['group www halted: root vanished'] },
  { description: 'stopping', input: { stopping: true, cycleStartedAtMs: undefined, nowMs: 1, halts: [] }, reasons: ['daemon is stopping'] },
] as const;

describe('healthOf', () => {
  for (const row of CASES) {
    it(row.description, () => {
      const h = healthOf(row.input);
      assert.deepEqual(h, { ok: row.reasons.length === 0, reasons: row.reasons });
    });
  }
});
