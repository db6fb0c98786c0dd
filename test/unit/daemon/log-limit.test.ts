// The rate-limited logger: a burst per message and window passes, the rest is counted and reported.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualClock } from '../../../src/core/clock.ts';
import { memoryLogger } from '../../../src/core/logger.ts';
import { limitRepeats } from '../../../src/daemon/log-limit.ts';

describe('limitRepeats', () => {
  it('passes `burst` warnings per message, then one summary per window', () => {
    const clock = manualClock();
    const base = memoryLogger();
    const log = limitRepeats(base, clock, { burst: 3, windowMs: 1000 });
    for (let i = 0; i < 10; i++) log.warn({ remote: `10.0.0.${i}:1` }, 'Connection dropped before authentication');
    log.child({ peer: 'b' }).warn({}, 'Inbound connection refused');
    for (let i = 0; i < 5; i++) log.info({ i }, 'Peer authenticated');
    assert.equal(base.records.filter((r) => r.msg === 'Connection dropped before authentication').length, 3);
    assert.equal(base.records.filter((r) => r.msg === 'Inbound connection refused').length, 1);
    assert.equal(base.records.filter((r) => r.msg === 'Peer authenticated').length, 5);
    clock.advance(1000);
    const summary = base.records.filter((r) => r.msg === 'Repeated log lines suppressed');
    assert.deepEqual(summary.map((r) => r.fields), [{ message: 'Connection dropped before authentication', suppressed: 7, windowMs: 1000 }]);
    log.warn({}, 'Connection dropped before authentication');
    assert.equal(base.records.filter((r) => r.msg === 'Connection dropped before authentication').length, 4);
  });

  it('reports what is still counted on close() and stops its timers', () => {
    const clock = manualClock();
    const base = memoryLogger();
    const log = limitRepeats(base, clock, { burst: 1, windowMs: 1000 });
    log.error({}, 'x');
    log.error({}, 'x');
    log.close();
    assert.deepEqual(base.records.map((r) => [r.msg, r.fields['suppressed']]), [['x', undefined], ['Repeated log lines suppressed', 1]]);
    clock.advance(5000);
    assert.equal(base.records.length, 2);
  });
});
