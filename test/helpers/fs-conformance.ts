// Shared FileSystem conformance tests: the same behaviours checked on NodeFileSystem (temp dir) and
// MemoryFileSystem, so the fake cannot drift from the real thing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FileSystem } from '../../src/fs/filesystem.ts';
import { hasCode } from '../../src/core/errors.ts';

/** A filesystem under test with an empty directory `root` in it; `cleanup` removes everything. */
export interface ConformanceTarget {
  readonly fs: FileSystem;
  readonly root: string;
  cleanup(): Promise<void>;
}

const HELLO = new TextEncoder().encode('hello, world');
const MTIME_NS = 1_712_345_678_123_456_789n;
const MTIME_TOLERANCE_NS = 1_000n;

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of it) out.push(c);
  return out;
}

async function writeAtomic(fs: FileSystem, path: string, content: Uint8Array, mode = 0o644): Promise<void> {
  const w = await fs.beginWrite(path);
  await w.write(content);
  await w.commit({ mode, mtimeNs: MTIME_NS });
}

function assertBytes(actual: Uint8Array | undefined, expected: Uint8Array, message?: string): void {
  assert.ok(actual !== undefined, 'bytes present');
  assert.deepEqual(Buffer.from(actual), Buffer.from(expected), message);
}

function assertMtimeClose(actual: bigint | undefined, expected: bigint): void {
  assert.ok(actual !== undefined, 'entry exists');
  const diff = actual > expected ? actual - expected : expected - actual;
  assert.ok(diff <= MTIME_TOLERANCE_NS, `mtime ${actual} within 1µs of ${expected}`);
}

/** Registers the conformance suite for one FileSystem implementation. */
export function describeFileSystemConformance(name: string, setup: () => Promise<ConformanceTarget>): void {
  describe(`${name} (FileSystem conformance)`, () => {
    let t: ConformanceTarget;
    let n = 0;
    const dir = async (): Promise<string> => {
      const d = `${t.root}/case-${n++}`;
      await t.fs.mkdir(d, { mode: 0o755 });
      return d;
    };
    before(async () => {
      t = await setup();
    });
    after(async () => {
      await t.cleanup();
    });

    it('returns undefined from lstat for a missing entry and for a path under a file', async () => {
      const d = await dir();
      assert.equal(t.fs.lstat(`${d}/missing`), undefined);
      await writeAtomic(t.fs, `${d}/f`, HELLO);
      assert.equal(t.fs.lstat(`${d}/f/below`), undefined);
    });

    it('writes atomically: target invisible until commit, no temp file left after', async () => {
      const d = await dir();
      const w = await t.fs.beginWrite(`${d}/f`);
      await w.write(HELLO.subarray(0, 5));
      await w.write(HELLO.subarray(5));
      assert.equal(t.fs.lstat(`${d}/f`), undefined);
      assert.equal(t.fs.readdir(d).length, 1, 'only the temp file exists before commit');
      assert.match(t.fs.readdir(d)[0] ?? '', /^\.f\.csync-.+\.tmp$/);
      await w.commit({ mode: 0o640, mtimeNs: MTIME_NS });
      assert.deepEqual(t.fs.readdir(d), ['f']);
      assertBytes(await t.fs.readFile(`${d}/f`), HELLO);
      const st = t.fs.lstat(`${d}/f`);
      assert.equal(st?.kind, 'file');
      assert.equal(st?.mode, 0o640);
      assert.equal(st?.sizeBytes, HELLO.length);
      assertMtimeClose(st?.mtimeNs, MTIME_NS);
    });

    it('replaces an existing file and gives it a new inode', async () => {
      const d = await dir();
      await writeAtomic(t.fs, `${d}/f`, new TextEncoder().encode('old'));
      const before = t.fs.lstat(`${d}/f`);
      await writeAtomic(t.fs, `${d}/f`, HELLO, 0o600);
      assertBytes(await t.fs.readFile(`${d}/f`), HELLO);
      assert.notEqual(t.fs.lstat(`${d}/f`)?.ino, before?.ino);
      assert.equal(t.fs.lstat(`${d}/f`)?.mode, 0o600);
    });

    it('removes the temp file on abort, and abort after commit is a no-op', async () => {
      const d = await dir();
      const w = await t.fs.beginWrite(`${d}/f`);
      await w.write(HELLO);
      await w.abort();
      assert.deepEqual(t.fs.readdir(d), []);
      const w2 = await t.fs.beginWrite(`${d}/g`);
      await w2.commit({});
      await w2.abort();
      assert.deepEqual(t.fs.readdir(d), ['g']);
      assert.equal(t.fs.lstat(`${d}/g`)?.sizeBytes, 0);
    });

    it('streams chunks of at most chunkBytes, as independent buffers', async () => {
      const d = await dir();
      await writeAtomic(t.fs, `${d}/f`, HELLO);
      const chunks = await collect(t.fs.readChunks(`${d}/f`, 5));
      assert.deepEqual(chunks.map((c) => c.length), [5, 5, 2]);
      chunks[0]?.fill(0);
      assert.deepEqual(Buffer.concat(chunks.slice(1)).toString(), ', world');
      assertBytes(await t.fs.readFile(`${d}/f`), HELLO, 'mutating a chunk does not touch the file');
      const whole = await collect(t.fs.readChunks(`${d}/f`, 100));
      assert.equal(whole.length, 1);
      assertBytes(whole[0], HELLO);
    });

    it('reads a range, short at end of file', async () => {
      const d = await dir();
      await writeAtomic(t.fs, `${d}/f`, HELLO);
      assert.equal(Buffer.from(await t.fs.readRange(`${d}/f`, 7, 3)).toString(), 'wor');
      assert.equal(Buffer.from(await t.fs.readRange(`${d}/f`, 10, 10)).toString(), 'ld');
    });

    it('creates and atomically replaces a symlink, leaving no temp link', async () => {
      const d = await dir();
      await t.fs.symlink('first', `${d}/l`, { mtimeNs: MTIME_NS });
      await t.fs.symlink('second/target', `${d}/l`, { mtimeNs: MTIME_NS });
      assert.equal(t.fs.readlink(`${d}/l`), 'second/target');
      assert.equal(t.fs.lstat(`${d}/l`)?.kind, 'symlink');
      assertMtimeClose(t.fs.lstat(`${d}/l`)?.mtimeNs, MTIME_NS);
      assert.deepEqual(t.fs.readdir(d), ['l']);
    });

    it('never changes the mode of a symlink target through setMeta on the link', async () => {
      const d = await dir();
      await writeAtomic(t.fs, `${d}/f`, HELLO, 0o644);
      await t.fs.symlink('f', `${d}/l`, {});
      await t.fs.setMeta(`${d}/l`, { mode: 0o600, mtimeNs: MTIME_NS });
      assert.equal(t.fs.lstat(`${d}/f`)?.mode, 0o644);
      assertMtimeClose(t.fs.lstat(`${d}/l`)?.mtimeNs, MTIME_NS);
    });

    it('sets mode and mtime with setMeta on a file', async () => {
      const d = await dir();
      await writeAtomic(t.fs, `${d}/f`, HELLO, 0o644);
      await t.fs.setMeta(`${d}/f`, { mode: 0o751, mtimeNs: MTIME_NS + 5_000_000n });
      assert.equal(t.fs.lstat(`${d}/f`)?.mode, 0o751);
      assertMtimeClose(t.fs.lstat(`${d}/f`)?.mtimeNs, MTIME_NS + 5_000_000n);
    });

    it('makes one directory with its mode, is a no-op on an existing one, fails without a parent', async () => {
      const d = await dir();
      await t.fs.mkdir(`${d}/sub`, { mode: 0o750, mtimeNs: MTIME_NS });
      assert.equal(t.fs.lstat(`${d}/sub`)?.kind, 'dir');
      assert.equal(t.fs.lstat(`${d}/sub`)?.mode, 0o750);
      assertMtimeClose(t.fs.lstat(`${d}/sub`)?.mtimeNs, MTIME_NS);
      await t.fs.mkdir(`${d}/sub`, { mode: 0o700 });
      assert.equal(t.fs.lstat(`${d}/sub`)?.mode, 0o750);
      await assert.rejects(t.fs.mkdir(`${d}/no/sub`, {}), (e) => hasCode(e, 'CSYNC_IO'));
    });

    it('treats unlink/rmdir of a missing entry as a no-op and refuses a non-empty rmdir', async () => {
      const d = await dir();
      await t.fs.unlink(`${d}/missing`);
      await t.fs.rmdir(`${d}/missing`);
      await t.fs.mkdir(`${d}/sub`, {});
      await writeAtomic(t.fs, `${d}/sub/f`, HELLO);
      await assert.rejects(t.fs.rmdir(`${d}/sub`), (e) => hasCode(e, 'CSYNC_IO') && /ENOTEMPTY/.test(e.message));
      await t.fs.unlink(`${d}/sub/f`);
      await t.fs.rmdir(`${d}/sub`);
      assert.deepEqual(t.fs.readdir(d), []);
    });

    it('throws CSYNC_IO naming the operation and path for a missing file', async () => {
      const d = await dir();
      await assert.rejects(t.fs.readFile(`${d}/nope`), (e) => hasCode(e, 'CSYNC_IO') && e.message.includes(JSON.stringify(`${d}/nope`)) && /ENOENT/.test(e.message));
      assert.throws(() => t.fs.readdir(`${d}/nope`), (e) => hasCode(e, 'CSYNC_IO'));
    });

    it('renames over an existing file', async () => {
      const d = await dir();
      await writeAtomic(t.fs, `${d}/a`, HELLO);
      await writeAtomic(t.fs, `${d}/b`, new TextEncoder().encode('b'));
      await t.fs.rename(`${d}/a`, `${d}/b`);
      assert.deepEqual(t.fs.readdir(d), ['b']);
      assertBytes(await t.fs.readFile(`${d}/b`), HELLO);
    });

    it('copies a file with its content, mode and mtime', async () => {
      const d = await dir();
      await writeAtomic(t.fs, `${d}/a`, HELLO, 0o604);
      await writeAtomic(t.fs, `${d}/b`, new TextEncoder().encode('replaced'), 0o600);
      await t.fs.copyFile(`${d}/a`, `${d}/b`);
      const st = t.fs.lstat(`${d}/b`);
      assertBytes(await t.fs.readFile(`${d}/b`), HELLO);
      assert.equal(st?.mode, 0o604);
      assertMtimeClose(st?.mtimeNs, MTIME_NS);
      assert.deepEqual(t.fs.readdir(d).sort(), ['a', 'b']);
      await t.fs.fsyncDir(d);
    });
  });
}
