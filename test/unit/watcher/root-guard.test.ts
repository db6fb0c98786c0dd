import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RootGuard } from '../../../src/watcher/root-guard.ts';
import { rawEventPaths } from '../../../src/watcher/chokidar-source.ts';

const ROOT = '/srv/www';
const DIR = { ino: 7 };
const OTHER_DIR = { ino: 8 };

describe('RootGuard', () => {
  it('reports a root missing at start once, and back once it is a directory', () => {
    const g = new RootGuard();
    assert.deepEqual(g.start(new Map([[ROOT, undefined]])), [{ kind: 'missing', root: ROOT }]);
    assert.equal(g.observe(ROOT, undefined), undefined);
    assert.deepEqual(g.observe(ROOT, DIR), { kind: 'back', root: ROOT });
    assert.equal(g.observe(ROOT, DIR), undefined);
  });

  it('reports a root replaced by another directory as back (its watch must be renewed)', () => {
    const g = new RootGuard();
    assert.deepEqual(g.start(new Map([[ROOT, DIR]])), []);
    assert.deepEqual(g.observe(ROOT, OTHER_DIR), { kind: 'back', root: ROOT });
  });

  it('reports a root the watcher lost as back even when it is the same directory again', () => {
    const g = new RootGuard();
    g.start(new Map([[ROOT, DIR]]));
    assert.deepEqual(g.observe(ROOT, DIR, { lost: true }), { kind: 'back', root: ROOT });
  });

  it('reports a root that went away as missing once', () => {
    const g = new RootGuard();
    g.start(new Map([[ROOT, DIR]]));
    assert.deepEqual(g.observe(ROOT, undefined), { kind: 'missing', root: ROOT });
    assert.equal(g.observe(ROOT, undefined, { lost: true }), undefined);
  });

  it('ignores paths that are not roots', () => {
    const g = new RootGuard();
    g.start(new Map([[ROOT, DIR]]));
    assert.equal(g.observe('/srv/www/sub', undefined), undefined);
  });
});

describe('rawEventPaths', () => {
  const rows = [
    { description: "a directory's watcher names a child", watched: '/r/d', ev: 'f', expected: ['/r/d/f'] },
    { description: "a file's own watcher names the file", watched: '/r/d/f', ev: 'f', expected: ['/r/d/f', '/r/d/f/f'] },
    { description: 'no name: the watched entry itself', watched: '/r/d', ev: undefined, expected: ['/r/d'] },
  ] as const;
  for (const row of rows) {
    it(row.description, () => {
      assert.deepEqual(rawEventPaths(row.watched, row.ev), row.expected);
    });
  }
});
