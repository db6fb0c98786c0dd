// ⚙ NodeFileSystem: the FileSystem port on a real disk via node:fs. Owns atomic writes
// (temp file + fsync + rename + directory fsync) and errno → CsyncError mapping. No sync logic here.
import {
  closeSync, fchmodSync, fchownSync, fdatasync, fstatSync, fsync, futimesSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync,
  renameSync, write, writeSync, promises as fsp,
} from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { CsyncError } from '../core/errors.ts';

/** Files up to this size are read with one synchronous call. */
const SMALL_FILE_BYTES = 1024 * 1024;
import type { FileSystem, FsMetaUpdate, FsStat, PendingWrite } from './filesystem.ts';

/** Chunk size copyFile streams with. */
const COPY_CHUNK_BYTES = 1 << 20;

const HINTS: Readonly<Record<string, string>> = {
  EACCES: 'check the permissions of the path and that csync runs as the intended user',
  EPERM: 'check the permissions of the path and that csync runs as the intended user',
  ENOENT: 'the path or its parent directory does not exist',
  ENOTDIR: 'a parent of the path is not a directory',
  EISDIR: 'a directory is in the way of a file',
  ENOTEMPTY: 'the directory still has entries',
  ENOSPC: 'the disk is full; free space and retry',
  EDQUOT: 'the disk quota is exhausted; free space and retry',
  EROFS: 'the filesystem is mounted read-only',
  EMFILE: 'too many open files; raise the open-file limit (ulimit -n / LimitNOFILE)',
};

/** Wraps a node:fs error as CsyncError('CSYNC_IO', `<op> "<path>": <CODE>`). */
function ioError(op: string, path: string, err: unknown): CsyncError {
  const code = errCode(err) ?? 'EIO';
  return new CsyncError('CSYNC_IO', `${op} ${JSON.stringify(path)}: ${code}`, {
    cause: err,
    hint: HINTS[code] ?? 'see the cause for the operating system error',
  });
}

function errCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A temp name beside `target`: `.<name>.csync-<random>.tmp`, ignored by scans by convention. */
/** Random per process, then a counter: unique without a random draw per file ('wx' catches any clash). */
const TEMP_PREFIX = randomBytes(4).toString('hex');
let tempCounter = 0;

function tempPathFor(target: string): string {
  tempCounter = (tempCounter + 1) % 0x7fffffff;
  return join(dirname(target), `.${basename(target)}.csync-${TEMP_PREFIX}${tempCounter.toString(36)}.tmp`);
}

/** Seconds as a float for utimes; a double keeps sub-microsecond precision for current dates. */
function nsToSeconds(ns: bigint): number {
  // A double holds today's epoch seconds to ~0.24 µs, and the kernel truncates: aim at the middle of
  // the intended microsecond so the microsecond read back is exactly the one that was meant.
  const micros = ns / 1000n;
  return Number(micros / 1_000_000n) + (Number(micros % 1_000_000n) + 0.5) / 1e6;
}

function toFsStat(st: BigIntStats): FsStat {
  const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  return {
    kind,
    sizeBytes: Number(st.size),
    mtimeNs: st.mtimeNs,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    ino: Number(st.ino),
  };
}

/**
 * The owner change to make, or undefined when there is none: fields left undefined become -1
 * ("unchanged"), and a change to the owner the entry already has is skipped so an unprivileged
 * daemon never needs chown for its own files.
 */
function ownerChange(meta: FsMetaUpdate, current: { uid: number; gid: number }): { uid: number; gid: number } | undefined {
  const uid = meta.uid !== undefined && meta.uid !== current.uid ? meta.uid : -1;
  const gid = meta.gid !== undefined && meta.gid !== current.gid ? meta.gid : -1;
  return uid === -1 && gid === -1 ? undefined : { uid, gid };
}

/**
 * Runs a chown-family call, ignoring EPERM: an unprivileged csync cannot give files away, and
 * that must not fail the write (the content is what matters; the next scan shows the owner).
 */
async function chownIgnoringEperm(op: string, path: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    // EPERM: not allowed to change the owner; keeping the current owner is safe (see above).
    if (errCode(err) === 'EPERM') return;
    throw ioError(op, path, err);
  }
}

async function wrap<T>(op: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof CsyncError ? err : ioError(op, path, err);
  }
}

/** Removes a temp file after a failure; the original error is what the caller must see. */
async function removeQuietly(path: string): Promise<void> {
  // Safe to swallow: the temp name is ours and a leftover is harmless (the scanner ignores it).
  await fsp.rm(path, { force: true }).catch(() => undefined);
}

/**
 * The FileSystem port on node:fs. Metadata calls are synchronous; content I/O uses fs.promises.
 * Atomic writes go to `.<name>.csync-<random>.tmp` in the target's directory (created with 'wx',
 * mode 0600), get owner/mode/mtime, are fsynced and renamed over the target; then the directory is
 * fsynced. Owner changes that fail with EPERM are ignored (see chownIgnoringEperm). mtimes are set
 * through a float of seconds, which keeps about 0.25 µs of precision for present-day dates (Node
 * has no nanosecond utimes). Every error is CsyncError('CSYNC_IO') with the errno in the message.
 */
export class NodeFileSystem implements FileSystem {
  /** lstat; undefined for ENOENT and for ENOTDIR (a parent is not a directory: nothing is there). */
  lstat(path: string): FsStat | undefined {
    try {
      const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
      return st === undefined ? undefined : toFsStat(st);
    } catch (err) {
      if (errCode(err) === 'ENOTDIR') return undefined;
      throw ioError('lstat', path, err);
    }
  }

  readdir(path: string): string[] {
    try {
      return readdirSync(path);
    } catch (err) {
      throw ioError('readdir', path, err);
    }
  }

  readlink(path: string): string {
    try {
      return readlinkSync(path);
    } catch (err) {
      throw ioError('readlink', path, err);
    }
  }

  /** Yields fresh buffers (callers may keep them) of at most `chunkBytes`; one read in flight. */
  async *readChunks(path: string, chunkBytes: number): AsyncIterable<Uint8Array> {
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) throw new Error(`bug: chunkBytes must be > 0, got ${chunkBytes}`);
    const st = this.lstat(path);
    if (st !== undefined && st.kind === 'file' && st.sizeBytes <= SMALL_FILE_BYTES && st.sizeBytes <= chunkBytes) {
      // Small files in one synchronous read: far cheaper than open/read/close on the thread pool.
      yield wrapSync('read', path, () => readFileSync(path));
      return;
    }
    const handle = await wrap('open', path, () => fsp.open(path, 'r'));
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(chunkBytes);
        const { bytesRead } = await wrap('read', path, () => handle.read(buf, 0, chunkBytes, null));
        if (bytesRead === 0) return;
        yield bytesRead === chunkBytes ? buf : buf.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    const handle = await wrap('open', path, () => fsp.open(path, 'r'));
    try {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await wrap('read', path, () => handle.read(buf, 0, length, offset));
      return buf.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  /** Synchronous: csync reads whole files only when they are small (inline offers). */
  async readFile(path: string): Promise<Uint8Array> {
    return Promise.resolve(wrapSync('read', path, () => readFileSync(path)));
  }

  async beginWrite(target: string): Promise<PendingWrite> {
    const tempPath = tempPathFor(target);
    const fd = wrapSync('open', tempPath, () => openSync(tempPath, 'wx', 0o600));
    return Promise.resolve(new NodePendingWrite(fd, tempPath, target));
  }

  readonly #mkdirs = new Map<string, Promise<void>>();

  /**
   * One level. The directory is made under a temp name, gets its mode (by chmod, so the umask does
   * not change it), owner and times, and is then renamed into place: a crash never leaves a
   * directory with the wrong mode under the real name. Concurrent calls for one path share one mkdir.
   */
  async mkdir(path: string, meta: FsMetaUpdate): Promise<void> {
    const pending = this.#mkdirs.get(path);
    if (pending) return pending;
    const p = this.#mkdirOnce(path, meta).finally(() => this.#mkdirs.delete(path));
    this.#mkdirs.set(path, p);
    return p;
  }

  async #mkdirOnce(path: string, meta: FsMetaUpdate): Promise<void> {
    if (this.lstat(path)?.kind === 'dir') return;
    const temp = tempPathFor(path);
    wrapSync('mkdir', path, () => mkdirSync(temp, { mode: 0o700 }));
    try {
      await this.setMeta(temp, { mode: 0o755, ...meta });
      wrapSync('mkdir', path, () => renameSync(temp, path));
    } catch (err) {
      // Someone made it meanwhile (or the rename failed): drop ours, accept an existing directory.
      await fsp.rmdir(temp).catch(() => undefined);
      if (this.lstat(path)?.kind === 'dir') return;
      throw err instanceof CsyncError ? err : ioError('mkdir', path, err);
    }
  }

  async symlink(target: string, path: string, meta: FsMetaUpdate): Promise<void> {
    const tempPath = tempPathFor(path);
    await wrap('symlink', tempPath, () => fsp.symlink(target, tempPath));
    try {
      await this.setMeta(tempPath, meta);
      await wrap('rename', path, () => fsp.rename(tempPath, path));
    } catch (err) {
      await removeQuietly(tempPath);
      throw err;
    }
    await this.fsyncDir(dirname(path));
  }

  /** Owner first (chown clears setuid bits), then mode (never on a symlink), then mtime (atime = mtime). */
  async setMeta(path: string, meta: FsMetaUpdate): Promise<void> {
    const st = this.lstat(path);
    if (st === undefined) throw ioError('setMeta', path, Object.assign(new Error('no such entry'), { code: 'ENOENT' }));
    const isLink = st.kind === 'symlink';
    const owner = ownerChange(meta, st);
    if (owner !== undefined) {
      const chown = isLink ? fsp.lchown : fsp.chown;
      await chownIgnoringEperm('chown', path, () => chown(path, owner.uid, owner.gid));
    }
    if (meta.mode !== undefined && !isLink) await wrap('chmod', path, () => fsp.chmod(path, meta.mode! & 0o7777));
    if (meta.mtimeNs !== undefined) {
      const s = nsToSeconds(meta.mtimeNs);
      await wrap('utimes', path, () => (isLink ? fsp.lutimes(path, s, s) : fsp.utimes(path, s, s)));
    }
  }

  async unlink(path: string): Promise<void> {
    await wrap('unlink', path, () => fsp.unlink(path)).catch((err: CsyncError) => {
      if (errCode(err.cause) !== 'ENOENT') throw err;
    });
  }

  async rmdir(path: string): Promise<void> {
    await wrap('rmdir', path, () => fsp.rmdir(path)).catch((err: CsyncError) => {
      if (errCode(err.cause) !== 'ENOENT') throw err;
    });
  }

  async rename(from: string, to: string): Promise<void> {
    await wrap('rename', from, () => fsp.rename(from, to));
  }

  /** Streams `from` into an atomic write of `to` and commits it with `from`'s mode, owner and mtime. */
  async copyFile(from: string, to: string): Promise<void> {
    const st = this.lstat(from);
    if (st?.kind !== 'file') throw ioError('copyFile', from, Object.assign(new Error('not a file'), { code: st ? 'EINVAL' : 'ENOENT' }));
    const pending = await this.beginWrite(to);
    try {
      for await (const chunk of this.readChunks(from, COPY_CHUNK_BYTES)) await pending.write(chunk);
      await pending.commit({ mode: st.mode, uid: st.uid, gid: st.gid, mtimeNs: st.mtimeNs });
    } catch (err) {
      await pending.abort();
      throw err;
    }
  }

  async fsyncDir(path: string): Promise<void> {
    await fsyncDirectory(path);
  }
}

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await wrap('open', path, () => fsp.open(path, 'r'));
  try {
    await wrap('fsync', path, () => handle.sync());
  } finally {
    await handle.close();
  }
}

/** An open temp file; see PendingWrite. The handle is closed by commit() or abort(). */
class NodePendingWrite implements PendingWrite {
  #state: 'open' | 'committed' | 'aborted' = 'open';
  readonly #fd: number;
  readonly #tempPath: string;
  readonly #target: string;
  #unsynced = 0;
  #writeback: Promise<void> | undefined;

  constructor(fd: number, tempPath: string, target: string) {
    this.#fd = fd;
    this.#tempPath = tempPath;
    this.#target = target;
  }

  /**
   * Writes synchronously: a chunk is at most 1 MiB and lands in the page cache, so blocking briefly
   * costs less than a thread-pool round trip per call (the fsync in commit() is what waits for disk).
   */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.#state !== 'open') throw new Error(`bug: write after ${this.#state}`);
    let off = 0;
    if (chunk.length >= ASYNC_WRITE_BYTES) {
      // Large chunks go to the thread pool so the socket keeps being read while the disk writes.
      while (off < chunk.length) off += await wrap('write', this.#tempPath, () => writeFd(this.#fd, chunk, off));
      this.#startWriteback(chunk.length);
      return;
    }
    while (off < chunk.length) off += wrapSync('write', this.#tempPath, () => writeSync(this.#fd, chunk, off, chunk.length - off));
  }

  /**
   * Early writeback for large files: every WRITEBACK_BYTES written, an fdatasync starts in the
   * background (one at a time), so the disk writes while the rest arrives and the final fsync only
   * waits for the tail (a 1 GiB file is ~3 s of disk here). Not relied on for durability: commit()
   * still fsyncs everything.
   */
  #startWriteback(n: number): void {
    this.#unsynced += n;
    if (this.#unsynced < WRITEBACK_BYTES || this.#writeback !== undefined) return;
    this.#unsynced = 0;
    this.#writeback = new Promise<void>((resolve) => fdatasync(this.#fd, () => resolve())).finally(() => {
      this.#writeback = undefined;
    });
  }

  async commit(meta: FsMetaUpdate, opts: { syncDir?: boolean } = {}): Promise<FsStat> {
    if (this.#state !== 'open') throw new Error(`bug: commit after ${this.#state}`);
    await this.#writeback;
    const fd = this.#fd;
    const p = this.#tempPath;
    // Metadata goes on the temp file so the target appears complete in one rename. The one fstat
    // comes last: it both tells whether the owner must change and is what the caller records.
    const chmod = (): void => {
      if (meta.mode !== undefined) wrapSync('chmod', p, () => fchmodSync(fd, meta.mode! & 0o7777));
    };
    chmod();
    if (meta.mtimeNs !== undefined) {
      const s = nsToSeconds(meta.mtimeNs);
      wrapSync('utimes', p, () => futimesSync(fd, s, s));
    }
    let st = wrapSync('fstat', p, () => fstatSync(fd, { bigint: true }));
    const owner = ownerChange(meta, { uid: Number(st.uid), gid: Number(st.gid) });
    if (owner !== undefined) {
      try {
        fchownSync(fd, owner.uid, owner.gid);
        // chown clears setuid/setgid bits: set the mode again, then see what the file has now.
        chmod();
        st = wrapSync('fstat', p, () => fstatSync(fd, { bigint: true }));
      } catch (err) {
        // EPERM: not allowed to change the owner; keeping the current owner is safe (see above).
        if (errCode(err) !== 'EPERM') throw ioError('chown', p, err);
      }
    }
    // The one call that waits for the disk runs on the thread pool, so many files sync at once.
    await wrap('fsync', p, () => fsyncFd(fd));
    wrapSync('close', p, () => closeSync(fd));
    wrapSync('rename', this.#target, () => renameSync(p, this.#target));
    this.#state = 'committed';
    if (opts.syncDir !== false) await fsyncDirectory(dirname(this.#target));
    return toFsStat(st);
  }

  /** Closes and removes the temp file; a no-op after commit or a previous abort. */
  async abort(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'aborted';
    await this.#writeback;
    try {
      closeSync(this.#fd);
    } catch {
      // Safe to swallow: the descriptor may already be closed by a commit that failed at its rename.
    }
    await removeQuietly(this.#tempPath);
  }
}

function wrapSync<T>(op: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw ioError(op, path, err);
  }
}

/** Large files start writing back to disk every this many bytes (see NodePendingWrite). */
const WRITEBACK_BYTES = 64 * 1024 * 1024;

/** Chunks at least this large are written on the thread pool (see NodePendingWrite.write). */
const ASYNC_WRITE_BYTES = 256 * 1024;

function writeFd(fd: number, chunk: Uint8Array, off: number): Promise<number> {
  return new Promise((resolve, reject) => write(fd, chunk, off, chunk.length - off, null, (err, n) => (err ? reject(err) : resolve(n))));
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}
