// Table tests of resolveConflict() and mergeIdentical() (core/conflict.ts): one row per case, each
// checked in both argument orders (every node must pick the same winner whichever side is local).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mergeIdentical, resolveConflict } from '../../../src/core/conflict.ts';
import type { ResolveGroup } from '../../../src/core/conflict.ts';
import type { AutoPolicy, FileState } from '../../../src/core/types.ts';
import { F1, F2, GONE, T0_NS, T1_NS, state } from '../../helpers/fixtures.ts';

const HOSTS = ['a', 'b', 'c'];
const group = (policy: AutoPolicy, receiveOnly: string[] = []): ResolveGroup => ({ policy, hosts: HOSTS, receiveOnly });

const OLD_SMALL_A = state({ ...F1, mtimeNs: T0_NS }, { a: 1 }, { origin: 'a', changedAtMs: 2000 });
const NEW_BIG_B = state({ ...F2, mtimeNs: T1_NS }, { b: 1 }, { origin: 'b', changedAtMs: 1000 });
const DELETED_C = state(GONE, { c: 1 }, { origin: 'c', changedAtMs: 500 });
const SAME_TIME_SIZE_A = state({ ...F1, mtimeNs: T1_NS }, { a: 1 }, { origin: 'a', changedAtMs: 1000 });
const SAME_TIME_SIZE_B = state({ ...F1, hash: 'ffffffffffffffff', mtimeNs: T1_NS }, { b: 1 }, { origin: 'b', changedAtMs: 1000 });

interface Row {
  readonly description: string;
  readonly group: ResolveGroup;
  readonly x: FileState;
  readonly y: FileState;
  /** The winner's origin, or 'held'. */
  readonly expected: string;
}

const ROWS: readonly Row[] = [
  { description: 'none holds every conflict for the operator', group: group('none'), x: OLD_SMALL_A, y: NEW_BIG_B, expected: 'held' },
  { description: 'younger picks the later mtime', group: group('younger'), x: OLD_SMALL_A, y: NEW_BIG_B, expected: 'b' },
  { description: 'older picks the earlier mtime', group: group('older'), x: OLD_SMALL_A, y: NEW_BIG_B, expected: 'a' },
  { description: 'bigger picks the larger size', group: group('bigger'), x: OLD_SMALL_A, y: NEW_BIG_B, expected: 'b' },
  { description: 'smaller picks the smaller size', group: group('smaller'), x: OLD_SMALL_A, y: NEW_BIG_B, expected: 'a' },
  { description: 'first picks the change detected first', group: group('first'), x: OLD_SMALL_A, y: NEW_BIG_B, expected: 'b' },
  { description: 'left picks the host listed first', group: group('left'), x: OLD_SMALL_A, y: NEW_BIG_B, expected: 'a' },
  { description: 'right picks the host listed last', group: group('right'), x: OLD_SMALL_A, y: NEW_BIG_B, expected: 'b' },
  { description: 'younger: modification beats a concurrent deletion', group: group('younger'), x: OLD_SMALL_A, y: DELETED_C, expected: 'a' },
  { description: 'older: modification beats a concurrent deletion', group: group('older'), x: OLD_SMALL_A, y: DELETED_C, expected: 'a' },
  { description: 'bigger: modification beats a concurrent deletion', group: group('bigger'), x: OLD_SMALL_A, y: DELETED_C, expected: 'a' },
  { description: 'smaller: modification beats a concurrent deletion', group: group('smaller'), x: OLD_SMALL_A, y: DELETED_C, expected: 'a' },
  { description: 'first: the earlier deletion wins', group: group('first'), x: OLD_SMALL_A, y: DELETED_C, expected: 'c' },
  { description: 'right: the deletion on the last host wins', group: group('right'), x: OLD_SMALL_A, y: DELETED_C, expected: 'c' },
  { description: 'younger tie on mtime and size: the lower node name wins', group: group('younger'), x: SAME_TIME_SIZE_A, y: SAME_TIME_SIZE_B, expected: 'a' },
  { description: 'first tie on detection time: the lower node name wins', group: group('first'), x: SAME_TIME_SIZE_A, y: SAME_TIME_SIZE_B, expected: 'a' },
  { description: 'a receive_only origin never wins, whatever the policy says', group: group('younger', ['b']), x: OLD_SMALL_A, y: NEW_BIG_B, expected: 'a' },
  { description: 'a receive_only origin loses even under none (nothing to hold)', group: group('none', ['a']), x: OLD_SMALL_A, y: NEW_BIG_B, expected: 'b' },
];

const winnerOf = (r: ReturnType<typeof resolveConflict>, x: FileState, y: FileState): string => (r.kind === 'held' ? 'held' : (r.winner === 'a' ? x : y).origin);

describe('resolveConflict (table)', () => {
  for (const row of ROWS) {
    it(row.description, () => {
      const xy = resolveConflict(row.x, row.y, row.group);
      const yx = resolveConflict(row.y, row.x, row.group);
      assert.equal(winnerOf(xy, row.x, row.y), row.expected);
      assert.equal(winnerOf(yx, row.y, row.x), row.expected, 'same winner with the sides swapped');
      if (xy.kind === 'resolved') {
        assert.deepEqual(xy.state.version, { ...row.x.version, ...row.y.version }, 'the resolved version merges both sides');
        assert.match(xy.rule, new RegExp(row.group.receiveOnly.length > 0 ? 'receive_only' : row.group.policy));
      }
    });
  }
});

describe('mergeIdentical (table)', () => {
  const X = state(F1, { a: 2 }, { origin: 'b', changedAtMs: 3000 });
  const Y = state(F1, { a: 1, c: 1 }, { origin: 'c', changedAtMs: 1000 });
  const Z = state(F1, { a: 1, d: 1 }, { origin: 'a', changedAtMs: 1000 });
  const rows = [
    { description: 'the earlier change names the merged state', local: X, incoming: Y, origin: 'c' },
    { description: 'the same from the other side', local: Y, incoming: X, origin: 'c' },
    { description: 'equal change times: the lower node name', local: Y, incoming: Z, origin: 'a' },
    { description: 'equal change times, other side', local: Z, incoming: Y, origin: 'a' },
  ];
  for (const r of rows) {
    it(r.description, () => {
      const m = mergeIdentical(r.local, r.incoming);
      assert.equal(m.origin, r.origin);
      assert.deepEqual(m.meta, r.local.meta, 'keeps the local metadata (what is on this disk)');
      assert.deepEqual(m.version, { ...r.local.version, ...r.incoming.version, a: Math.max(r.local.version['a'] ?? 0, r.incoming.version['a'] ?? 0) });
    });
  }
});

describe('a directory and a file at one path', () => {
  const DIR_B = state({ kind: 'dir', sizeBytes: 0, mtimeNs: T0_NS, mode: 0o755, uid: 0, gid: 0 }, { b: 1 }, { origin: 'b', changedAtMs: 1000 });
  const policies: AutoPolicy[] = ['none', 'younger', 'older', 'bigger', 'smaller', 'first', 'left', 'right'];
  for (const policy of policies) {
    it(`lets the directory win under auto = ${policy}, whichever side it is on`, () => {
      for (const [x, y] of [[OLD_SMALL_A, DIR_B], [DIR_B, OLD_SMALL_A], [NEW_BIG_B, DIR_B]] as const) {
        const r = resolveConflict(x, y, group(policy));
        assert.equal(r.kind, 'resolved', policy);
        if (r.kind === 'resolved') {
          assert.equal(r.state.meta.kind, 'dir');
          assert.equal(r.rule, 'a directory wins over a file');
        }
      }
    });
  }

  it('leaves a directory against a deletion to the policies (modification beats deletion)', () => {
    const r = resolveConflict(DIR_B, DELETED_C, group('younger'));
    assert.equal(r.kind === 'resolved' ? r.rule : r.rule, 'auto = younger');
  });
});
