// Scope mapping (sync/scope.ts) over MEMORY_TOML on node a: roots, targets, peers, user paths.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CsyncError } from '../../../src/core/errors.ts';
import { compileMatcher } from '../../../src/core/matcher.ts';
import { parseConfig } from '../../../src/config/parse.ts';
import { resolveNode } from '../../../src/config/resolve.ts';
import type { GroupMatcher } from '../../../src/sync/context.ts';
import { absPathOf, allRootTargets, logicalOf, peersFor, relOf, targetsForUserPath, targetsOf } from '../../../src/sync/scope.ts';
import { MEMORY_TOML } from '../../helpers/fixtures.ts';

const CONFIG = parseConfig(MEMORY_TOML, 'inline.toml');
const VIEW_A = resolveNode(CONFIG, 'a');
const VIEW_C = resolveNode(CONFIG, 'c');
const matchersOf = (view: typeof VIEW_A): Map<string, GroupMatcher> =>
  new Map([...view.groups].map(([name, g]) => [name, compileMatcher(g.config.exclude)]));
const MATCHERS_A = matchersOf(VIEW_A);

describe('relOf', () => {
  const rows: readonly { description: string; root: string; path: string; expected: string | undefined }[] = [
    { description: 'the root itself is ""', root: '/data', path: '/data', expected: '' },
    { description: 'a path below the root', root: '/data', path: '/data/a/b', expected: 'a/b' },
    { description: 'a sibling sharing a name prefix is not below', root: '/data', path: '/database/x', expected: undefined },
    { description: 'an unrelated path', root: '/data', path: '/etc/passwd', expected: undefined },
  ];
  for (const row of rows) {
    it(row.description, () => {
      assert.equal(relOf(row.root, row.path), row.expected);
    });
  }

  it("refuses a '..' that would leave the root", () => {
    assert.throws(() => relOf('/data', '/data/../etc'), (e: unknown) => e instanceof CsyncError && e.code === 'CSYNC_PATH_UNSAFE');
  });
});

describe('targetsOf', () => {
  it('finds the group and root holding a path', () => {
    const ts = targetsOf(VIEW_A, MATCHERS_A, '/data/x/y');
    assert.deepEqual(ts.map((t) => [t.group.config.name, t.root, t.absRoot, t.rel]), [['g', '/data', '/data', 'x/y']]);
    assert.equal(absPathOf(ts[0]!), '/data/x/y');
    assert.equal(logicalOf(ts[0]!), '/data/x/y');
  });

  it('finds nothing for an excluded path or a path outside every root', () => {
    assert.deepEqual(targetsOf(VIEW_A, MATCHERS_A, '/data/debug.log'), []);
    assert.deepEqual(targetsOf(VIEW_A, MATCHERS_A, '/srv/x'), []);
  });
});

describe('peersFor', () => {
  it("lists the other hosts of a path's groups, sorted", () => {
    assert.deepEqual(peersFor(VIEW_A, MATCHERS_A, '/data/x'), ['b', 'c']);
    assert.deepEqual(peersFor(VIEW_A, MATCHERS_A, '/other/x'), ['b']);
  });

  it('lists nobody on a receive_only node, or for an excluded path', () => {
    assert.deepEqual(peersFor(VIEW_C, matchersOf(VIEW_C), '/data/x'), []);
    assert.deepEqual(peersFor(VIEW_A, MATCHERS_A, '/data/x.log'), []);
  });
});

describe('targetsForUserPath and allRootTargets', () => {
  it('maps an absolute path (with a trailing slash) to its target', () => {
    assert.deepEqual(targetsForUserPath(VIEW_A, '/data/sub/').map((t) => [t.root, t.rel]), [['/data', 'sub']]);
    assert.deepEqual(targetsForUserPath(VIEW_A, '/data').map((t) => [t.root, t.rel]), [['/data', '']]);
  });

  it('throws CSYNC_USAGE for a path in no group, or outside the filtered groups', () => {
    const usage = (e: unknown): boolean => e instanceof CsyncError && e.code === 'CSYNC_USAGE';
    assert.throws(() => targetsForUserPath(VIEW_A, '/etc/passwd'), usage);
    assert.throws(() => targetsForUserPath(VIEW_A, '/other/x', new Set(['g'])), usage);
  });

  it('lists every root of every (filtered) group', () => {
    assert.deepEqual(allRootTargets(VIEW_A).map((t) => [t.group.config.name, t.root, t.rel]), [['g', '/data', ''], ['other', '/other', '']]);
    assert.deepEqual(allRootTargets(VIEW_A, new Set(['other'])).map((t) => t.root), ['/other']);
    assert.deepEqual(allRootTargets(VIEW_C).map((t) => t.root), ['/data'], 'c is only in g');
  });
});
