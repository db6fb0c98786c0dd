// scan() (scanner/scan.ts) on a MemoryFileSystem with a real ':memory:' store and the real hasher:
// what a first scan records, what a rescan notices, what it skips, and the emptied-root rail.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CsyncError } from '../../../src/core/errors.ts';
import type { FileState, LogicalPath, RelPath } from '../../../src/core/types.ts';
import { parseScanSig } from '../../../src/store/state-store.ts';
import { FailingFileSystem } from '../../../src/fs/failing-fs.ts';
import type { FileSystem } from '../../../src/fs/filesystem.ts';
import { scan } from '../../../src/scanner/scan.ts';
import { runCheck } from '../../../src/sync/check.ts';
import { allRootTargets } from '../../../src/sync/scope.ts';
import type { ScanOptions, ScanResult } from '../../../src/scanner/scan.ts';
import { memoryNode } from '../../helpers/fixtures.ts';
import type { MemoryNode } from '../../helpers/fixtures.ts';

const ROOT = '/data';

/** Scans /data of node `n` (through `fs` if given) and records the result like runCheck does. */
async function scanAndRecord(n: MemoryNode, opts: Partial<ScanOptions> = {}): Promise<ScanResult> {
  const changed: FileState[] = [];
  const why: string[] = [];
  const result = await scan({
    onChanges: (states, reasons, sigs) => {
      changed.push(...states);
      why.push(...reasons);
      n.store.transaction(() => states.forEach((st, i) => n.store.put(st, sigs[i])));
    },
    onLocalSigs: (sigs) => n.store.setLocalSigs(sigs),
    fs: n.ctx.fs,
    hasher: n.ctx.hasher,
    known: n.store,
    root: ROOT,
    absRoot: ROOT,
    rel: '' as RelPath,
    recursive: true,
    isExcluded: (p) => p.endsWith('.log') || p === `${ROOT}/cache` || p.startsWith(`${ROOT}/cache/`),
    ignore: [],
    self: 'a',
    nowMs: n.clock.nowMs(),
    allowMassDelete: false,
    ...opts,
  });
  return { ...result, changed, why };
}

/** A node with /data/{a.txt, sub/b.txt, sub/link -> ../a.txt}. */
async function plantedNode(t: { after(fn: () => void): void }): Promise<MemoryNode> {
  const n = await memoryNode('a');
  t.after(() => n.close());
  n.mem.writeFileSync(`${ROOT}/a.txt`, 'alpha');
  n.mem.mkdirpSync(`${ROOT}/sub`);
  n.mem.writeFileSync(`${ROOT}/sub/b.txt`, 'beta');
  n.mem.symlinkSync('../a.txt', `${ROOT}/sub/link`);
  // Past the racy window: a check this close to a write would hash the files again (see below).
  n.clock.advance(3000);
  return n;
}

const byPath = (changed: readonly FileState[]): Map<string, FileState> => new Map(changed.map((s) => [s.path, s]));
const noReads = (fs: FileSystem): FileSystem => new FailingFileSystem(fs, { failOn: (op) => op === 'readChunks' || op === 'readFile' });

describe('scan', () => {
  it('records every entry of a first scan with version {self: 1} and the real content hash', async (t) => {
    const n = await plantedNode(t);
    const result = await scanAndRecord(n);
    const got = byPath(result.changed);
    assert.deepEqual([...got.keys()].sort(), [ROOT, `${ROOT}/a.txt`, `${ROOT}/sub`, `${ROOT}/sub/b.txt`, `${ROOT}/sub/link`]);
    for (const s of result.changed) {
      assert.deepEqual(s.version, { a: 1 }, s.path);
      assert.equal(s.origin, 'a');
    }
    assert.equal(got.get(`${ROOT}/a.txt`)?.meta.hash, n.ctx.hasher.hashBytes(new TextEncoder().encode('alpha')));
    assert.equal(got.get(`${ROOT}/a.txt`)?.meta.sizeBytes, 5);
    assert.equal(got.get(`${ROOT}/sub/link`)?.meta.kind, 'symlink');
    assert.equal(got.get(`${ROOT}/sub/link`)?.meta.target, '../a.txt');
    assert.equal(got.get(`${ROOT}/sub`)?.meta.kind, 'dir');
    assert.deepEqual(result.why, result.changed.map(() => 'new'));
    assert.equal(result.bytesHashed, 9);
    assert.equal(result.halted, undefined);
    assert.deepEqual(result.problems, []);
  });

  it('records nothing on an unchanged second scan and reads no file content', async (t) => {
    const n = await plantedNode(t);
    await scanAndRecord(n);
    const again = await scanAndRecord(n, { fs: noReads(n.mem) });
    assert.deepEqual(again.changed, []);
    assert.deepEqual(again.problems, [], 'a read would have surfaced as a problem');
    assert.equal(again.bytesHashed, 0);
    assert.equal(again.entriesSeen, 5);
  });

  it('bumps the counter on a content change', async (t) => {
    const n = await plantedNode(t);
    await scanAndRecord(n);
    n.mem.writeFileSync(`${ROOT}/sub/b.txt`, 'beta, longer');
    const result = await scanAndRecord(n);
    assert.deepEqual(result.changed.map((s) => s.path), [`${ROOT}/sub/b.txt`]);
    const [s] = result.changed;
    assert.deepEqual(s?.version, { a: 2 });
    assert.equal(s?.meta.hash, n.ctx.hasher.hashBytes(new TextEncoder().encode('beta, longer')));
    assert.deepEqual(result.why, ['content changed']);
  });

  it('records a chmod as a metadata change with the same hash (re-read: a chmod moves the ctime as a write does)', async (t) => {
    const n = await plantedNode(t);
    const first = byPath((await scanAndRecord(n)).changed);
    n.mem.setMetaSync(`${ROOT}/a.txt`, { mode: 0o600 });
    const result = await scanAndRecord(n);
    assert.deepEqual(result.problems, []);
    assert.deepEqual(result.changed.map((s) => s.path), [`${ROOT}/a.txt`]);
    const [s] = result.changed;
    assert.equal(s?.meta.mode, 0o600);
    assert.equal(s?.meta.hash, first.get(`${ROOT}/a.txt`)?.meta.hash);
    assert.deepEqual(s?.version, { a: 2 });
    assert.match(result.why[0] ?? '', /^metadata changed \(mode\)$/);
  });

  it('sees a rewrite of the same size whose mtime was put back (the ctime moved), and hashes it', async (t) => {
    const n = await plantedNode(t);
    await scanAndRecord(n);
    const st = n.mem.lstat(`${ROOT}/a.txt`);
    n.mem.writeFileSync(`${ROOT}/a.txt`, 'ALPHA', { mtimeNs: st?.mtimeNs ?? 0n, mode: st?.mode ?? 0o644 });
    n.clock.advance(3000);
    const result = await scanAndRecord(n);
    assert.deepEqual(result.changed.map((s) => s.path), [`${ROOT}/a.txt`]);
    assert.equal(result.changed[0]?.meta.hash, n.ctx.hasher.hashBytes(new TextEncoder().encode('ALPHA')));
    assert.deepEqual(result.why, ['content changed']);
  });

  it('hashes a file recorded inside the racy window again, then trusts it once the window has passed', async (t) => {
    const n = await memoryNode('a');
    t.after(() => n.close());
    n.mem.writeFileSync(`${ROOT}/fresh.txt`, 'one');
    n.clock.advance(1); // a millisecond after the write: inside the window, not in the future
    await scanAndRecord(n);
    // Same inode, size, mtime and ctime: only the racy rule makes the next check read it.
    const again = await scanAndRecord(n);
    assert.equal(again.bytesHashed, 3, 'a file recorded in the same tick as its write is read again');
    n.clock.advance(3000);
    await scanAndRecord(n);
    const later = await scanAndRecord(n, { fs: noReads(n.mem) });
    assert.deepEqual(later.problems, []);
    assert.equal(later.bytesHashed, 0, 'once recorded outside the window it is trusted');
  });

  it('hashes a file whose record has no hash, even with its local signature as recorded', async (t) => {
    const n = await plantedNode(t);
    await scanAndRecord(n);
    const path = `${ROOT}/a.txt` as LogicalPath;
    const rec = n.store.get(path) as FileState;
    const sig = parseScanSig(n.store.scanIndex(path).get(path) as string).localSig;
    assert.notEqual(sig, '', 'the record has a trusted local signature');
    const { hash: _dropped, ...meta } = rec.meta;
    n.store.put({ ...rec, meta }, sig);
    const again = await scanAndRecord(n);
    assert.equal(again.bytesHashed, 5, 'the file is read: a record without a hash proves nothing about the content');
  });

  it('records local signatures in a dry run that asks for them (csync -T), so the next check reads nothing', async (t) => {
    const n = await memoryNode('a');
    t.after(() => n.close());
    n.mem.writeFileSync(`${ROOT}/fresh.txt`, 'one');
    n.clock.advance(1);
    await scanAndRecord(n); // inside the racy window: recorded without a signature
    n.clock.advance(3000);
    const t0 = await runCheck(n.ctx, allRootTargets(n.ctx.view, new Set(['g'])), { recursive: true, markAll: false, force: false, allowMassDelete: false, dryRun: true, recordLocalSigs: true });
    assert.deepEqual(t0.changed, [], 'a dry run records no change');
    const later = await scanAndRecord(n, { fs: noReads(n.mem) });
    assert.deepEqual(later.problems, []);
    assert.equal(later.bytesHashed, 0, 'the signature the dry run recorded lets the check skip the read');
  });

  it('ignores a chmod when the group ignores mode', async (t) => {
    const n = await plantedNode(t);
    await scanAndRecord(n);
    n.mem.setMetaSync(`${ROOT}/a.txt`, { mode: 0o600 });
    assert.deepEqual((await scanAndRecord(n, { ignore: ['mode'] })).changed, []);
  });

  it('turns a deleted entry into a tombstone with a bumped version', async (t) => {
    const n = await plantedNode(t);
    await scanAndRecord(n);
    n.mem.removeSync(`${ROOT}/sub/b.txt`);
    const result = await scanAndRecord(n);
    assert.deepEqual(result.changed.map((s) => [s.path, s.meta.kind, s.version]), [[`${ROOT}/sub/b.txt`, 'deleted', { a: 2 }]]);
    assert.deepEqual(result.why, ['deleted']);
    assert.deepEqual((await scanAndRecord(n)).changed, [], 'a tombstone is not deleted again');
  });

  it('records a re-created file as newer than its tombstone', async (t) => {
    const n = await plantedNode(t);
    await scanAndRecord(n);
    n.mem.removeSync(`${ROOT}/a.txt`);
    await scanAndRecord(n);
    n.mem.writeFileSync(`${ROOT}/a.txt`, 'alpha again');
    const result = await scanAndRecord(n);
    assert.deepEqual(result.changed.map((s) => [s.path, s.meta.kind, s.version]), [[`${ROOT}/a.txt`, 'file', { a: 3 }]]);
    assert.deepEqual(result.why, ['recreated']);
  });

  it('skips excluded paths and everything below an excluded directory', async (t) => {
    const n = await plantedNode(t);
    n.mem.writeFileSync(`${ROOT}/debug.log`, 'noise');
    n.mem.mkdirpSync(`${ROOT}/cache/deep`);
    n.mem.writeFileSync(`${ROOT}/cache/deep/x`, 'x');
    const paths: string[] = (await scanAndRecord(n)).changed.map((s) => s.path);
    assert.ok(paths.includes(`${ROOT}/a.txt`));
    assert.deepEqual(paths.filter((p) => p.includes('log') || p.includes('cache')), []);
  });

  it('does not turn an entry that became excluded into a tombstone', async (t) => {
    const n = await plantedNode(t);
    await scanAndRecord(n);
    const result = await scanAndRecord(n, { isExcluded: (p) => p === `${ROOT}/a.txt` });
    assert.deepEqual(result.changed, []);
  });

  it("skips csync's own temp files", async (t) => {
    const n = await plantedNode(t);
    n.mem.writeFileSync(`${ROOT}/.x.csync-abc.tmp`, 'partial');
    n.mem.writeFileSync(`${ROOT}/sub/.b.txt.csync-7.tmp`, 'partial');
    n.mem.writeFileSync(`${ROOT}/.x.csync-abc.tmp.keep`, 'not a temp name');
    const paths: string[] = (await scanAndRecord(n)).changed.map((s) => s.path);
    assert.ok(!paths.some((p) => p.endsWith('.tmp')), JSON.stringify(paths));
    assert.ok(paths.includes(`${ROOT}/.x.csync-abc.tmp.keep`));
  });

  it('halts an emptied root with CSYNC_SYNC_HALTED_FOR_SAFETY and records no deletions', async (t) => {
    const n = await plantedNode(t);
    await scanAndRecord(n);
    for (const name of n.mem.readdir(ROOT)) n.mem.removeSync(`${ROOT}/${name}`);
    const result = await scanAndRecord(n);
    assert.ok(result.halted instanceof CsyncError);
    assert.equal(result.halted.code, 'CSYNC_SYNC_HALTED_FOR_SAFETY');
    assert.match(result.halted.message, /has become empty but 4 entries were recorded/);
    assert.match(result.halted.hint ?? '', /--allow-mass-delete/);
    assert.deepEqual(result.changed.filter((s) => s.meta.kind === 'deleted'), []);
    assert.equal(n.store.get(`${ROOT}/a.txt` as FileState['path'])?.meta.kind, 'file');
  });

  it('halts a vanished root (an unmounted disk) the same way', async (t) => {
    const n = await plantedNode(t);
    await scanAndRecord(n);
    n.mem.removeSync(ROOT);
    const result = await scanAndRecord(n);
    assert.equal(result.halted?.code, 'CSYNC_SYNC_HALTED_FOR_SAFETY');
    assert.match(result.halted?.message ?? '', /is missing/);
    assert.deepEqual(result.changed, []);
  });

  it('records the deletions of an emptied root with allowMassDelete', async (t) => {
    const n = await plantedNode(t);
    await scanAndRecord(n);
    for (const name of n.mem.readdir(ROOT)) n.mem.removeSync(`${ROOT}/${name}`);
    const result = await scanAndRecord(n, { allowMassDelete: true });
    assert.equal(result.halted, undefined);
    assert.deepEqual(
      result.changed.filter((s) => s.meta.kind === 'deleted').map((s) => s.path).sort(),
      [`${ROOT}/a.txt`, `${ROOT}/sub`, `${ROOT}/sub/b.txt`, `${ROOT}/sub/link`],
    );
  });

  it('reports an unreadable file as a problem and goes on', async (t) => {
    const n = await plantedNode(t);
    const fs = new FailingFileSystem(n.mem, { failOn: (op, p) => op === 'readChunks' && p === `${ROOT}/a.txt` });
    const result = await scanAndRecord(n, { fs });
    assert.deepEqual(result.problems.map((p) => p.path), [`${ROOT}/a.txt`]);
    assert.ok(!result.changed.some((s) => s.path === `${ROOT}/a.txt`));
    assert.ok(result.changed.some((s) => s.path === `${ROOT}/sub/b.txt`));
  });

  it('never records a recorded file that became unreadable as deleted', async (t) => {
    const n = await plantedNode(t);
    await scanAndRecord(n);
    n.mem.writeFileSync(`${ROOT}/a.txt`, 'alpha, edited');
    const fs = new FailingFileSystem(n.mem, { failOn: (op, p) => op === 'readChunks' && p === `${ROOT}/a.txt` });
    const result = await scanAndRecord(n, { fs });
    assert.deepEqual(result.problems.map((p) => p.path), [`${ROOT}/a.txt`]);
    assert.deepEqual(result.changed.map((s) => s.path), [], 'no change and no tombstone for the unreadable file');
  });
});
