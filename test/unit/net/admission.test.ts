// Admission of unauthenticated connections: the per-source and total limits, and source keys.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PendingConnections, sourceKeyOf } from '../../../src/net/admission.ts';

describe('sourceKeyOf', () => {
  const rows: { address: string | undefined; key: string }[] = [
    { address: '192.0.2.7', key: '192.0.2.7' },
    { address: '::ffff:192.0.2.7', key: '192.0.2.7' },
    { address: '::FFFF:192.0.2.7', key: '192.0.2.7' },
    { address: '2001:db8:1:2:3:4:5:6', key: '2001:db8:1:2::/64' },
    { address: '2001:db8:1:2::99', key: '2001:db8:1:2::/64' },
    { address: '2001:0db8:0001:0002:ffff::1', key: '2001:db8:1:2::/64' },
    { address: '2001:db8::1', key: '2001:db8:0:0::/64' },
    { address: '::1', key: '0:0:0:0::/64' },
    { address: 'fe80::1%eth0', key: 'fe80:0:0:0::/64' },
    { address: undefined, key: 'unknown' },
  ];
  for (const { address, key } of rows) {
    it(`keys ${String(address)} as ${key}`, () => assert.equal(sourceKeyOf(address), key));
  }
});

describe('PendingConnections', () => {
  it('refuses the newest connection from a source over the per-source limit, not others', () => {
    const p = new PendingConnections({ maxPending: 10, maxPendingPerSource: 2, timeoutMs: 1 });
    assert.deepEqual(p.admit('a'), { ok: true });
    assert.deepEqual(p.admit('a'), { ok: true });
    assert.deepEqual(p.admit('a'), { ok: false, reason: 'too many unauthenticated connections from this source (limit 2)' });
    assert.deepEqual(p.admit('b'), { ok: true });
    assert.equal(p.size, 3);
    p.release('a');
    assert.deepEqual(p.admit('a'), { ok: true });
  });

  it('refuses the newest connection over the total limit until one is released', () => {
    const p = new PendingConnections({ maxPending: 3, maxPendingPerSource: 2, timeoutMs: 1 });
    for (const s of ['a', 'b', 'c']) assert.deepEqual(p.admit(s), { ok: true });
    assert.deepEqual(p.admit('d'), { ok: false, reason: 'too many unauthenticated connections (limit 3 in total)' });
    p.release('b');
    assert.deepEqual(p.admit('d'), { ok: true });
    assert.equal(p.size, 3);
  });

  it('treats a release of a connection never admitted as a bug', () => {
    const p = new PendingConnections({ maxPending: 3, maxPendingPerSource: 2, timeoutMs: 1 });
    assert.throws(() => p.release('x'), /^Error: bug: /);
  });
});
