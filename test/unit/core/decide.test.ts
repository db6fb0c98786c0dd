// Table test of decide() (core/decide.ts) over named fixtures, in the style of mutagen's TestReconcile.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Decision, DecideOptions } from '../../../src/core/decide.ts';
import { decide, sameContent, sameMeta } from '../../../src/core/decide.ts';
import type { FileState } from '../../../src/core/types.ts';
import { DIR, DIR_CHMOD, DIR_LATER, F1, F1_CHGRP, F1_CHMOD, F1_CHOWN, F1_TOUCHED, F2, GONE, LINK, LINK2, state } from '../../helpers/fixtures.ts';

const PLAIN: DecideOptions = { ignore: [], force: false };
const FORCED: DecideOptions = { ignore: [], force: true };
const IGNORE_MODE: DecideOptions = { ignore: ['mode'], force: false };
const IGNORE_OWNER: DecideOptions = { ignore: ['uid', 'gid'], force: false };

const APPLY_NEW: Decision = { kind: 'apply', reason: 'new-path' };
const APPLY_NEWER: Decision = { kind: 'apply', reason: 'newer' };
const APPLY_FORCED: Decision = { kind: 'apply', reason: 'forced' };
const HAVE_EQUAL: Decision = { kind: 'have', reason: 'equal' };
const HAVE_OLDER: Decision = { kind: 'have', reason: 'older' };
const MERGE: Decision = { kind: 'merge', reason: 'identical' };
const CONFLICT: Decision = { kind: 'conflict', reason: 'concurrent' };
const DIVERGED: Decision = { kind: 'conflict', reason: 'diverged' };

interface Row {
  readonly description: string;
  readonly local: FileState | undefined;
  readonly incoming: FileState;
  readonly opts: DecideOptions;
  readonly expected: Decision;
}

/** Concurrent pairs: `a` changed on node a, `b` on node b, from a common {a:1}. */
const ON_A = { a: 2 };
const ON_B = { a: 1, b: 1 };

const ROWS: readonly Row[] = [
  { description: 'a path never seen is applied', local: undefined, incoming: state(F1, { b: 1 }), opts: PLAIN, expected: APPLY_NEW },
  { description: 'a never-seen tombstone is applied (a no-op delete that records it)', local: undefined, incoming: state(GONE, { b: 1 }), opts: PLAIN, expected: APPLY_NEW },
  { description: 'a newer content change is applied', local: state(F1, { a: 1 }), incoming: state(F2, { a: 1, b: 1 }), opts: PLAIN, expected: APPLY_NEWER },
  { description: 'a newer deletion is applied', local: state(F1, { a: 1 }), incoming: state(GONE, { a: 2 }), opts: PLAIN, expected: APPLY_NEWER },
  { description: 'a newer re-creation over a tombstone is applied', local: state(GONE, { a: 2 }), incoming: state(F1, { a: 3 }), opts: PLAIN, expected: APPLY_NEWER },
  { description: 'the same version is already here', local: state(F1, { a: 1 }), incoming: state(F1, { a: 1 }), opts: PLAIN, expected: HAVE_EQUAL },
  { description: 'the same version with only other metadata is still "have" (versions decide)', local: state(F1, { a: 1 }), incoming: state(F1_CHMOD, { a: 1 }), opts: PLAIN, expected: HAVE_EQUAL },
  { description: 'the same version with different content is a conflict (diverged, never accepted silently)', local: state(F1, { a: 1 }), incoming: state(F2, { a: 1 }), opts: PLAIN, expected: DIVERGED },
  { description: 'the same version with different content is applied when forced', local: state(F1, { a: 1 }), incoming: state(F2, { a: 1 }), opts: FORCED, expected: APPLY_FORCED },
  { description: 'an older version is not applied', local: state(F2, { a: 2 }), incoming: state(F1, { a: 1 }), opts: PLAIN, expected: HAVE_OLDER },
  { description: 'an older version is not applied even when forced', local: state(F2, { a: 2 }), incoming: state(F1, { a: 1 }), opts: FORCED, expected: HAVE_OLDER },
  { description: 'concurrent identical files merge', local: state(F1, ON_A), incoming: state(F1, ON_B), opts: PLAIN, expected: MERGE },
  { description: 'concurrent deletions merge', local: state(GONE, ON_A), incoming: state(GONE, ON_B), opts: PLAIN, expected: MERGE },
  { description: 'concurrent identical symlinks merge', local: state(LINK, ON_A), incoming: state(LINK, ON_B), opts: PLAIN, expected: MERGE },
  { description: 'concurrent different contents conflict', local: state(F1, ON_A), incoming: state(F2, ON_B), opts: PLAIN, expected: CONFLICT },
  { description: 'concurrent edit and deletion conflict', local: state(F1, ON_A), incoming: state(GONE, ON_B), opts: PLAIN, expected: CONFLICT },
  { description: 'concurrent file and directory conflict', local: state(F1, ON_A), incoming: state(DIR, ON_B), opts: PLAIN, expected: CONFLICT },
  { description: 'concurrent different symlink targets conflict', local: state(LINK, ON_A), incoming: state(LINK2, ON_B), opts: PLAIN, expected: CONFLICT },
  { description: 'concurrent different mtimes of one content conflict', local: state(F1, ON_A), incoming: state(F1_TOUCHED, ON_B), opts: PLAIN, expected: CONFLICT },
  { description: 'a forced concurrent change is applied', local: state(F1, ON_A), incoming: state(F2, ON_B), opts: FORCED, expected: APPLY_FORCED },
  { description: 'a forced but identical concurrent change merges', local: state(F1, ON_A), incoming: state(F1, ON_B), opts: FORCED, expected: MERGE },
  { description: 'a concurrent mode change conflicts', local: state(F1, ON_A), incoming: state(F1_CHMOD, ON_B), opts: PLAIN, expected: CONFLICT },
  { description: 'a concurrent mode change merges when mode is ignored', local: state(F1, ON_A), incoming: state(F1_CHMOD, ON_B), opts: IGNORE_MODE, expected: MERGE },
  { description: 'a concurrent uid change conflicts', local: state(F1, ON_A), incoming: state(F1_CHOWN, ON_B), opts: PLAIN, expected: CONFLICT },
  { description: 'a concurrent uid change merges when uid is ignored', local: state(F1, ON_A), incoming: state(F1_CHOWN, ON_B), opts: IGNORE_OWNER, expected: MERGE },
  { description: 'a concurrent gid change merges when gid is ignored', local: state(F1, ON_A), incoming: state(F1_CHGRP, ON_B), opts: IGNORE_OWNER, expected: MERGE },
  { description: 'ignoring mode does not hide a gid change', local: state(F1, ON_A), incoming: state(F1_CHGRP, ON_B), opts: IGNORE_MODE, expected: CONFLICT },
  { description: 'directory mtimes are not compared', local: state(DIR, ON_A), incoming: state(DIR_LATER, ON_B), opts: PLAIN, expected: MERGE },
  { description: 'a concurrent directory mode change conflicts', local: state(DIR, ON_A), incoming: state(DIR_CHMOD, ON_B), opts: PLAIN, expected: CONFLICT },
];

describe('decide', () => {
  for (const row of ROWS) {
    it(row.description, () => {
      assert.deepEqual(decide(row.local, row.incoming, row.opts), row.expected);
    });
  }
});

describe('sameMeta and sameContent', () => {
  it('treat a chmod as a metadata-only change', () => {
    assert.equal(sameMeta(F1, F1_CHMOD, []), false);
    assert.equal(sameContent(F1, F1_CHMOD), true);
  });

  it('treat different hashes as different content', () => {
    assert.equal(sameContent(F1, F2), false);
  });

  it('ignore a symlink\'s mode (Linux has no lchmod)', () => {
    assert.equal(sameMeta(LINK, { ...LINK, mode: 0o755 }, []), true);
  });

  it('never call different kinds the same', () => {
    assert.equal(sameMeta(F1, DIR, ['mode', 'uid', 'gid']), false);
    assert.equal(sameContent(DIR, GONE), false);
  });
});
