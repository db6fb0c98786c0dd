// ⚙ NodeFileSystem: the FileSystem port on a real disk via node:fs. Owns atomic writes
// (temp file + fsync + rename + directory fsync) and errno → CsyncError mapping. No sync logic here.
import {
  chmodSync, closeSync, constants as fsConstants, fchmodSync, fchownSync, fdatasync, fstatSync, fsync, futimesSync, lchownSync, lstatSync,
  lutimesSync, mkdirSync, openSync, read, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, symlinkSync, unlinkSync, write,
  writeSync, promises as fsp,
} from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { CsyncError, hasCode } from '../core/errors.ts';

/** Files up to this size are read with one synchronous call. */
const SMALL_FILE_BYTES = 1024 * 1024;
import type { CommitOptions, FileSystem, FsDirEntry, FsExpect, FsMetaUpdate, FsStat, PendingWrite } from './filesystem.ts';

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
  EEXIST: 'something is already at the path',
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

function tempNameFor(name: string): string {
  tempCounter = (tempCounter + 1) % 0x7fffffff;
  return `.${name}.csync-${TEMP_PREFIX}${tempCounter.toString(36)}.tmp`;
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
    ctimeNs: st.ctimeNs,
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

async function wrap<T>(op: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof CsyncError ? err : ioError(op, path, err);
  }
}

/** Flags: a directory to hold; a file to read (never through a final symlink, never blocking on a fifo). */
/** lstat options of a listing: exact nanosecond times, and undefined for an entry gone since readdir. */
const LSTAT_OPTS = { bigint: true, throwIfNoEntry: false } as const;
const DIR_FLAGS = fsConstants.O_RDONLY | fsConstants.O_DIRECTORY;
const READ_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;
const CREATE_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;

/**
 * The directory an operation works in. For a confined path it is held open (`fd`) and names inside
 * it are given to the kernel as `/proc/self/fd/<fd>/<name>`, which Linux resolves relative to the
 * held directory: the `openat()` family that Node lacks. For other paths it is the plain path.
 */
interface DirRef {
  /** A path naming `name` inside this directory. */
  at(name: string): string;
  /** fsyncs the directory. */
  sync(): Promise<void>;
  close(): void;
}

/**
 * A directory held by descriptor (classes, not closures: the receiver makes several per file and
 * the daemon runs with a small young generation). `owned`: close() closes the descriptor; a
 * borrowed one belongs to NodeFileSystem's cache and close() does nothing.
 */
class HeldDir implements DirRef {
  readonly #fd: number;
  readonly #display: string;
  readonly #owned: boolean;
  constructor(fd: number, display: string, owned: boolean) {
    this.#fd = fd;
    this.#display = display;
    this.#owned = owned;
  }
  at(name: string): string {
    return `/proc/self/fd/${this.#fd}/${name}`;
  }
  sync(): Promise<void> {
    return wrap('fsync', this.#display, () => fsyncFd(this.#fd));
  }
  close(): void {
    if (this.#owned) closeQuietly(this.#fd);
  }
}

/** A directory outside every anchor, named by its path. */
class PlainDir implements DirRef {
  readonly #dir: string;
  constructor(dir: string) {
    this.#dir = dir;
  }
  at(name: string): string {
    return this.#dir === '/' ? `/${name}` : `${this.#dir}/${name}`;
  }
  sync(): Promise<void> {
    return fsyncDirectory(this.#dir);
  }
  close(): void {
    // Nothing is held.
  }
}

/**
 * The working directory csync started in, held open so a listing can return to it: `/proc/self/fd/N`
 * of it, or undefined where a listing cannot change directory (a worker thread, or a start directory
 * that cannot be opened), and then lists through `/proc/self/fd/N/<name>` instead.
 *
 * Why a listing changes directory at all: Node has no fstatat, and an lstat through the /proc link
 * of the verified directory costs a /proc lookup per entry. chdir to that link is fchdir: the
 * working directory becomes the directory the descriptor holds, whatever happens to its path, so
 * names resolve from it exactly as through the link. It is safe because a listing is synchronous
 * (no other JavaScript runs before the working directory is restored) and csync hands the thread
 * pool absolute paths only (a relative one would resolve against whatever directory is current).
 */
let home: string | null | undefined = null;
function homeDir(): string | undefined {
  if (home === null) {
    home = undefined;
    if (isMainThread) {
      try {
        home = `/proc/self/fd/${openSync('.', DIR_FLAGS)}`;
      } catch {
        // Safe to swallow: listings take the /proc path instead.
      }
    }
  }
  return home;
}

function enterDir(proc: string, path: string): void {
  try {
    process.chdir(proc);
  } catch (err) {
    throw ioError('readdir', path, err);
  }
}

function readdirSorted(path: string, dir: string): string[] {
  // Sorted here (the default sort, far cheaper than a comparator over entries): see the port.
  return wrapSync('readdir', path, () => readdirSync(dir)).sort();
}

/** lstat of each name (`prefix` + name): a plain loop and one options object, as it runs per entry of every check. */
function listEntries(path: string, names: readonly string[], prefix: string): FsDirEntry[] {
  const out = new Array<FsDirEntry>(names.length);
  let i = 0;
  try {
    for (; i < names.length; i++) {
      const name = names[i] as string;
      const st = lstatSync(prefix + name, LSTAT_OPTS);
      out[i] = { name, stat: st === undefined ? undefined : toFsStat(st) };
    }
  } catch (err) {
    throw ioError('lstat', `${path}/${names[i] as string}`, err);
  }
  return out;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Safe to swallow: closing a descriptor we opened fails only if it is already closed.
  }
}

function splitAbs(abs: string): { dir: string; name: string } {
  const i = abs.lastIndexOf('/');
  return { dir: i <= 0 ? '/' : abs.slice(0, i), name: abs.slice(i + 1) };
}

function normalizeAnchor(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** True when `abs` is `anchor` or below it. */
function within(anchor: string, abs: string): boolean {
  return abs === anchor || abs.startsWith(anchor === '/' ? '/' : `${anchor}/`);
}

function localChange(path: string, why: string): CsyncError {
  return new CsyncError('CSYNC_LOCAL_CHANGE', `${JSON.stringify(path)}: ${why}`, {
    hint: 'the local version is kept; csync checks it again and syncs whatever is there then',
  });
}

function unsafePath(path: string, why: string): CsyncError {
  return new CsyncError('CSYNC_PATH_UNSAFE', `${JSON.stringify(path)}: ${why}`, {
    hint: 'csync never reads or writes through a symlinked directory inside a root; fix the tree on this node',
  });
}

/** True when `st` (from fstat) is not the entry `expect` describes. */
function differsFrom(st: BigIntStats, expect: FsExpect): boolean {
  return Number(st.size) !== expect.sizeBytes || st.mtimeNs / 1000n !== expect.mtimeNs / 1000n
    || (expect.ino !== undefined && Number(st.ino) !== expect.ino);
}

/** True when the entry now at a path (`now`) is not the one seen before (`before`; null: nothing). */
function replacedSince(before: FsStat | null, now: FsStat | undefined): boolean {
  if (before === null || now === undefined) return before !== null || now !== undefined;
  return before.kind !== now.kind || before.ino !== now.ino || before.sizeBytes !== now.sizeBytes || before.mtimeNs !== now.mtimeNs
    || (before.ctimeNs !== undefined && now.ctimeNs !== undefined && before.ctimeNs !== now.ctimeNs);
}

/**
 * The FileSystem port on node:fs. Metadata calls are synchronous; content I/O streams.
 *
 * Confinement (DECISIONS.md "Confinement by descriptor"): for a path below an anchor (confine()), the parent directory is opened
 * and `readlink(/proc/self/fd/N)` must name exactly the anchor's real path plus the expected
 * components; otherwise a component is a symlink, or a directory was moved, and the operation is
 * refused. Everything then happens relative to that descriptor (`/proc/self/fd/N/<name>`): a local
 * user who swaps a directory for a symlink between two operations cannot redirect the next one.
 * Files are opened O_NOFOLLOW and their fstat compared with what the caller trusted; metadata is
 * set through a descriptor (fchown, fchmod, futimes), never by a path that could follow a link.
 *
 * Atomic writes go to `.<name>.csync-<random>.tmp` in the target's directory (created O_EXCL,
 * mode 0600), get owner/mode/mtime, are fsynced and renamed over the target; then the directory is
 * fsynced. Owner changes that fail with EPERM are ignored (see chownIgnoringEperm). mtimes are set
 * through a float of seconds, which keeps about 0.25 µs of precision for present-day dates (Node
 * has no nanosecond utimes). Every error is a CsyncError with the errno in the message.
 */
export class NodeFileSystem implements FileSystem {
  /** Anchors, longest first (a nested anchor wins). */
  #anchors: string[] = [];

  constructor(opts: { anchors?: readonly string[] } = {}) {
    if (opts.anchors) this.confine(opts.anchors);
  }

  confine(anchors: readonly string[]): void {
    this.#anchors = [...new Set(anchors.map(normalizeAnchor))].sort((a, b) => b.length - a.length);
  }

  #anchorOf(abs: string): string | undefined {
    for (const a of this.#anchors) if (within(a, abs)) return a;
    return undefined;
  }

  /** Refuses to replace, remove or write an anchor itself (a root is a directory the config owns). */
  #refuseAnchor(op: string, abs: string): void {
    if (this.#anchors.includes(abs)) throw unsafePath(abs, `${op} refused: a root is never replaced or removed`);
  }

  /**
   * Verified directory descriptors, by absolute path (LRU order). An entry is used only while its
   * `readlink(/proc/self/fd/N)` is still exactly the path it was verified at (one syscall per use
   * instead of the open, readlink and close of every component's check), and for at most
   * DIR_CACHE_MS, so a root that an operator's symlink now points elsewhere is picked up. All are
   * closed once the filesystem has been idle that long, so no descriptor keeps an unmounted root busy.
   */
  readonly #dirs = new Map<string, { fd: number; real: string; atMs: number }>();
  #sweep: ReturnType<typeof setTimeout> | undefined;

  /**
   * A descriptor of directory `absDir` (the anchor or below it), proven to be the one at that path
   * with no symlink below the anchor: its real path is the anchor's plus the same components.
   * Borrowed from the cache: use it synchronously and never close it (see #ownDir).
   */
  #borrowDir(op: string, anchor: string, absDir: string): number {
    const now = Date.now();
    const hit = this.#dirs.get(absDir);
    if (hit !== undefined) {
      this.#dirs.delete(absDir);
      if (now - hit.atMs < DIR_CACHE_MS && readlinkOrEmpty(hit.fd) === hit.real) {
        this.#dirs.set(absDir, hit);
        return hit.fd;
      }
      closeQuietly(hit.fd);
    }
    let fd: number;
    let real: string;
    if (absDir === anchor) {
      fd = wrapSync(op, anchor, () => openSync(anchor, DIR_FLAGS));
      real = readlinkOrEmpty(fd);
    } else {
      const afd = this.#borrowDir(op, anchor, anchor);
      // Just verified by #borrowDir: its cached real path, not a second readlink.
      const anchorReal = this.#dirs.get(anchor)?.real ?? '';
      const rel = absDir.slice(anchor === '/' ? 1 : anchor.length + 1);
      fd = wrapSync(op, absDir, () => openSync(`/proc/self/fd/${afd}/${rel}`, DIR_FLAGS));
      real = readlinkOrEmpty(fd);
      if (anchorReal === '' || real !== (anchorReal === '/' ? `/${rel}` : `${anchorReal}/${rel}`)) {
        closeQuietly(fd);
        if (anchorReal === '' || real === '') {
          throw new CsyncError('CSYNC_IO', `${op} ${JSON.stringify(absDir)}: cannot read /proc/self/fd`, {
            hint: 'csync confines writes through /proc/self/fd: mount /proc (Linux) for the daemon',
          });
        }
        throw unsafePath(absDir, whyNotConfined(anchor, rel));
      }
    }
    this.#dirs.set(absDir, { fd, real, atMs: now });
    if (this.#dirs.size > DIR_CACHE_MAX) {
      const [oldest, e] = this.#dirs.entries().next().value as [string, { fd: number }];
      this.#dirs.delete(oldest);
      closeQuietly(e.fd);
    }
    this.#armSweep();
    return fd;
  }

  /** Closes every cached descriptor once nothing used the filesystem for DIR_CACHE_MS. */
  #armSweep(): void {
    if (this.#sweep !== undefined) this.#sweep.refresh();
    else {
      this.#sweep = setTimeout(() => {
        this.#sweep = undefined;
        for (const e of this.#dirs.values()) closeQuietly(e.fd);
        this.#dirs.clear();
      }, DIR_CACHE_MS);
      this.#sweep.unref();
    }
  }

  /** An owned descriptor of the same directory (to hold across an await): the caller closes it. */
  #ownDir(op: string, anchor: string, absDir: string): number {
    const fd = this.#borrowDir(op, anchor, absDir);
    return wrapSync(op, absDir, () => openSync(`/proc/self/fd/${fd}`, DIR_FLAGS));
  }

  /**
   * The directory holding `abs` and the last component's name. Below an anchor it is a verified
   * descriptor: borrowed (close() does nothing; use it synchronously) unless `owned`.
   */
  #parent(op: string, abs: string, opts: { owned?: boolean } = {}): { dir: DirRef; name: string } {
    const { dir, name } = splitAbs(abs);
    const anchor = this.#anchorOf(abs);
    if (anchor === undefined || abs === anchor) return { dir: new PlainDir(dir), name };
    if (opts.owned === true) return { dir: new HeldDir(this.#ownDir(op, anchor, dir), dir, true), name };
    return { dir: new HeldDir(this.#borrowDir(op, anchor, dir), dir, false), name };
  }

  /** A descriptor of directory `abs` itself (confined when below an anchor) that the caller closes. */
  #openDir(op: string, abs: string): number {
    const anchor = this.#anchorOf(abs);
    if (anchor === undefined) return wrapSync(op, abs, () => openSync(abs, DIR_FLAGS));
    return this.#ownDir(op, anchor, abs);
  }

  /** lstat; undefined for ENOENT and ENOTDIR, and below a symlinked or moved directory of a root. */
  lstat(path: string): FsStat | undefined {
    let parent: { dir: DirRef; name: string };
    try {
      parent = this.#parent('lstat', path);
    } catch (err) {
      if (hasCode(err, 'CSYNC_PATH_UNSAFE') || NOTHING_THERE.has(errCode((err as Error).cause) ?? '')) return undefined;
      throw err;
    }
    try {
      const st = lstatSync(parent.dir.at(parent.name), { bigint: true, throwIfNoEntry: false });
      return st === undefined ? undefined : toFsStat(st);
    } catch (err) {
      if (errCode(err) === 'ENOTDIR') return undefined;
      throw ioError('lstat', path, err);
    } finally {
      parent.dir.close();
    }
  }

  readdir(path: string): string[] {
    const fd = this.#openDir('readdir', path);
    try {
      return wrapSync('readdir', path, () => readdirSync(`/proc/self/fd/${fd}`));
    } finally {
      closeQuietly(fd);
    }
  }

  listDir(path: string): FsDirEntry[] {
    const fd = this.#openDir('readdir', path);
    try {
      const proc = `/proc/self/fd/${fd}`;
      const home = homeDir();
      if (home === undefined) return listEntries(path, readdirSorted(path, proc), `${proc}/`);
      // In the directory itself: names resolve from the verified directory with no /proc lookup
      // each (a third cheaper per entry), as fstatat would (see homeDir).
      enterDir(proc, path);
      try {
        return listEntries(path, readdirSorted(path, '.'), '');
      } finally {
        process.chdir(home);
      }
    } finally {
      closeQuietly(fd);
    }
  }

  readlink(path: string): string {
    const { dir, name } = this.#parent('readlink', path);
    try {
      return wrapSync('readlink', path, () => readlinkSync(dir.at(name)));
    } finally {
      dir.close();
    }
  }

  /**
   * Opens a regular file for reading without following a final symlink, and checks that what was
   * opened is what the caller trusted (`expect`): a swap to a symlink or another file between the
   * check and the read is a CSYNC_LOCAL_CHANGE, never a read of something else.
   */
  #openRead(op: string, path: string, expect?: FsExpect): { fd: number; sizeBytes: number } {
    const { dir, name } = this.#parent(op, path);
    let fd: number;
    try {
      fd = openSync(dir.at(name), READ_FLAGS);
    } catch (err) {
      if (errCode(err) === 'ELOOP') throw localChange(path, 'is a symlink now; csync never reads through one');
      throw ioError(op, path, err);
    } finally {
      dir.close();
    }
    try {
      const st = fstatSync(fd, { bigint: true });
      if (!st.isFile()) throw localChange(path, 'is not a regular file any more');
      if (expect !== undefined && differsFrom(st, expect)) throw localChange(path, 'changed since it was checked');
      return { fd, sizeBytes: Number(st.size) };
    } catch (err) {
      closeQuietly(fd);
      throw err instanceof CsyncError ? err : ioError(op, path, err);
    }
  }

  /** Yields fresh buffers (callers may keep them) of at most `chunkBytes`; one read in flight. */
  async *readChunks(path: string, chunkBytes: number, expect?: FsExpect): AsyncIterable<Uint8Array> {
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) throw new Error(`bug: chunkBytes must be > 0, got ${chunkBytes}`);
    const { fd, sizeBytes } = this.#openRead('open', path, expect);
    try {
      if (sizeBytes <= SMALL_FILE_BYTES && sizeBytes <= chunkBytes) {
        // Small files in one synchronous read: far cheaper than reads on the thread pool.
        yield wrapSync('read', path, () => readFileSync(fd));
        return;
      }
      for (;;) {
        const buf = Buffer.allocUnsafe(chunkBytes);
        const n = await wrap('read', path, () => readFd(fd, buf, null));
        if (n === 0) return;
        yield n === chunkBytes ? buf : buf.subarray(0, n);
      }
    } finally {
      closeQuietly(fd);
    }
  }

  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    const { fd } = this.#openRead('open', path);
    try {
      const buf = Buffer.alloc(length);
      const n = await wrap('read', path, () => readFd(fd, buf, offset));
      return buf.subarray(0, n);
    } finally {
      closeQuietly(fd);
    }
  }

  /** Synchronous: csync reads whole files only when they are small (inline offers). */
  async readFile(path: string, expect?: FsExpect): Promise<Uint8Array> {
    const { fd } = this.#openRead('open', path, expect);
    try {
      return Promise.resolve(wrapSync('read', path, () => readFileSync(fd)));
    } finally {
      closeQuietly(fd);
    }
  }

  async beginWrite(target: string): Promise<PendingWrite> {
    this.#refuseAnchor('write', target);
    const { dir, name } = this.#parent('open', target, { owned: true });
    const temp = tempNameFor(name);
    try {
      const fd = wrapSync('open', `${splitAbs(target).dir}/${temp}`, () => openSync(dir.at(temp), CREATE_FLAGS, 0o600));
      return Promise.resolve(new NodePendingWrite({ fd, dir, temp, name, target }));
    } catch (err) {
      dir.close();
      throw err;
    }
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
    const { dir, name } = this.#parent('mkdir', path);
    try {
      if (lstatSync(dir.at(name), { throwIfNoEntry: false })?.isDirectory()) return;
      const temp = tempNameFor(name);
      wrapSync('mkdir', path, () => mkdirSync(dir.at(temp), { mode: 0o700 }));
      try {
        setMetaIn(dir, temp, path, { mode: 0o755, ...meta });
        wrapSync('mkdir', path, () => renameSync(dir.at(temp), dir.at(name)));
      } catch (err) {
        // Someone made it meanwhile (or the rename failed): drop ours, accept an existing directory.
        try {
          rmdirSync(dir.at(temp));
        } catch {
          // Safe to swallow: an empty temp directory left behind is removed by the start-up sweep.
        }
        if (lstatSync(dir.at(name), { throwIfNoEntry: false })?.isDirectory()) return;
        throw err instanceof CsyncError ? err : ioError('mkdir', path, err);
      }
    } finally {
      dir.close();
    }
  }

  async symlink(target: string, path: string, meta: FsMetaUpdate): Promise<void> {
    this.#refuseAnchor('symlink', path);
    const { dir, name } = this.#parent('symlink', path, { owned: true });
    try {
      const temp = tempNameFor(name);
      wrapSync('symlink', path, () => symlinkSync(target, dir.at(temp)));
      try {
        setMetaIn(dir, temp, path, meta);
        wrapSync('rename', path, () => renameSync(dir.at(temp), dir.at(name)));
      } catch (err) {
        try {
          unlinkSync(dir.at(temp));
        } catch {
          // Safe to swallow: the temp link is ours and a leftover is removed by the start-up sweep.
        }
        throw err;
      }
      await dir.sync();
    } finally {
      dir.close();
    }
  }

  /** Owner first (chown clears setuid bits), then mode (never on a symlink), then mtime (atime = mtime). */
  async setMeta(path: string, meta: FsMetaUpdate): Promise<void> {
    const { dir, name } = this.#parent('setMeta', path);
    try {
      setMetaIn(dir, name, path, meta);
    } finally {
      dir.close();
    }
    return Promise.resolve();
  }

  async unlink(path: string): Promise<void> {
    this.#removeEntry('unlink', path, unlinkSync);
    return Promise.resolve();
  }

  async rmdir(path: string): Promise<void> {
    this.#removeEntry('rmdir', path, rmdirSync);
    return Promise.resolve();
  }

  /** unlink/rmdir inside the confined parent; a missing entry is not an error. */
  #removeEntry(op: string, path: string, remove: (p: string) => void): void {
    this.#refuseAnchor(op, path);
    const { dir, name } = this.#parent(op, path);
    try {
      remove(dir.at(name));
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw ioError(op, path, err);
    } finally {
      dir.close();
    }
  }

  async rename(from: string, to: string): Promise<void> {
    this.#refuseAnchor('rename', from);
    this.#refuseAnchor('rename', to);
    const src = this.#parent('rename', from);
    try {
      const dst = this.#parent('rename', to);
      try {
        wrapSync('rename', from, () => renameSync(src.dir.at(src.name), dst.dir.at(dst.name)));
      } finally {
        dst.dir.close();
      }
    } finally {
      src.dir.close();
    }
    return Promise.resolve();
  }

  /** Streams `from` into an atomic write of `to` and commits it with `from`'s mode, owner and mtime. */
  async copyFile(from: string, to: string): Promise<void> {
    const st = this.lstat(from);
    if (st?.kind !== 'file') throw ioError('copyFile', from, Object.assign(new Error('not a file'), { code: st ? 'EINVAL' : 'ENOENT' }));
    const pending = await this.beginWrite(to);
    try {
      for await (const chunk of this.readChunks(from, COPY_CHUNK_BYTES, st)) await pending.write(chunk);
      await pending.commit({ mode: st.mode, uid: st.uid, gid: st.gid, mtimeNs: st.mtimeNs });
    } catch (err) {
      await pending.abort();
      throw err;
    }
  }

  async fsyncDir(path: string): Promise<void> {
    const fd = this.#openDir('open', path);
    try {
      await wrap('fsync', path, () => fsyncFd(fd));
    } finally {
      closeQuietly(fd);
    }
  }
}

/** Names a component of `rel` below `anchor` that is not a plain directory, for the message. */
function whyNotConfined(anchor: string, rel: string): string {
  let cur = anchor === '/' ? '' : anchor;
  for (const part of rel.split('/')) {
    cur += `/${part}`;
    try {
      const st = lstatSync(cur, { throwIfNoEntry: false });
      if (st?.isSymbolicLink()) return `${JSON.stringify(cur)} is a symlink`;
      if (st !== undefined && !st.isDirectory()) return `${JSON.stringify(cur)} is not a directory`;
    } catch {
      break;
    }
  }
  return 'a parent directory was moved or replaced while csync used it';
}

/** How long a verified directory descriptor is reused, and how many are kept (see #borrowDir). */
const DIR_CACHE_MS = 1000;
const DIR_CACHE_MAX = 64;

/** The path the kernel gives for descriptor `fd`, or '' when /proc cannot tell (then nothing matches). */
function readlinkOrEmpty(fd: number): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return '';
  }
}

/** errnos after which nothing is at a path. */
const NOTHING_THERE = new Set(['ENOENT', 'ENOTDIR']);

/**
 * Sets metadata on entry `name` of `dir`: through a descriptor opened O_NOFOLLOW for files and
 * directories (fchown, then fchmod, then futimes), with lchown/lutimes for a symlink; never by a
 * path a swapped entry could redirect.
 */
function setMetaIn(dir: DirRef, name: string, display: string, meta: FsMetaUpdate): void {
  const p = dir.at(name);
  const st = wrapSync('setMeta', display, () => lstatSync(p, { bigint: true }));
  const owner = ownerChange(meta, { uid: Number(st.uid), gid: Number(st.gid) });
  if (st.isSymbolicLink()) {
    if (owner !== undefined) chownSyncIgnoringEperm('chown', display, () => lchownSync(p, owner.uid, owner.gid));
    if (meta.mtimeNs !== undefined) {
      const s = nsToSeconds(meta.mtimeNs);
      wrapSync('utimes', display, () => lutimesSync(p, s, s));
    }
    return;
  }
  if (!st.isFile() && !st.isDirectory()) throw ioError('setMeta', display, Object.assign(new Error('not a file or directory'), { code: 'EINVAL' }));
  let fd: number;
  try {
    fd = openSync(p, (st.isDirectory() ? fsConstants.O_DIRECTORY : 0) | READ_FLAGS);
  } catch (err) {
    if (errCode(err) !== 'EACCES') throw ioError('open', display, err);
    // An unprivileged daemon may own an entry it cannot open (mode 0200): set it by name inside
    // the held directory instead (only its own entries, so nothing it could not change anyway).
    if (owner !== undefined) chownSyncIgnoringEperm('chown', display, () => lchownSync(p, owner.uid, owner.gid));
    if (meta.mode !== undefined) wrapSync('chmod', display, () => chmodSync(p, meta.mode! & 0o7777));
    if (meta.mtimeNs !== undefined) {
      const s = nsToSeconds(meta.mtimeNs);
      wrapSync('utimes', display, () => lutimesSync(p, s, s));
    }
    return;
  }
  try {
    const now = fstatSync(fd, { bigint: true });
    if (now.ino !== st.ino) throw localChange(display, 'was replaced while csync set its metadata');
    if (owner !== undefined) chownSyncIgnoringEperm('chown', display, () => fchownSync(fd, owner.uid, owner.gid));
    if (meta.mode !== undefined) wrapSync('chmod', display, () => fchmodSync(fd, meta.mode! & 0o7777));
    if (meta.mtimeNs !== undefined) {
      const s = nsToSeconds(meta.mtimeNs);
      wrapSync('utimes', display, () => futimesSync(fd, s, s));
    }
  } finally {
    closeQuietly(fd);
  }
}

function chownSyncIgnoringEperm(op: string, path: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    // EPERM: not allowed to change the owner; keeping the current owner is safe (see ownerChange).
    if (errCode(err) !== 'EPERM') throw ioError(op, path, err);
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

/**
 * An open temp file in a held directory; see PendingWrite. The file and the directory are closed
 * by commit() or abort(); the rename happens inside the held directory.
 */
class NodePendingWrite implements PendingWrite {
  #state: 'open' | 'committed' | 'aborted' = 'open';
  readonly #fd: number;
  readonly #dir: DirRef;
  readonly #temp: string;
  readonly #name: string;
  readonly #tempPath: string;
  readonly #target: string;
  #unsynced = 0;
  #writeback: Promise<void> | undefined;

  constructor(o: { fd: number; dir: DirRef; temp: string; name: string; target: string }) {
    this.#fd = o.fd;
    this.#dir = o.dir;
    this.#temp = o.temp;
    this.#name = o.name;
    this.#target = o.target;
    this.#tempPath = `${splitAbs(o.target).dir}/${o.temp}`;
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

  async commit(meta: FsMetaUpdate, opts: CommitOptions = {}): Promise<FsStat> {
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
    const dir = this.#dir;
    if (opts.expectTarget !== undefined) {
      // A local edit made while this file streamed in is never overwritten: look once more, right
      // before the rename, and keep the local version if the target is not what was decided on.
      const now = lstatSync(dir.at(this.#name), { bigint: true, throwIfNoEntry: false });
      if (replacedSince(opts.expectTarget, now === undefined ? undefined : toFsStat(now))) {
        await this.abort();
        throw localChange(this.#target, 'changed on this node while the new version was being received');
      }
    }
    this.#state = 'committed';
    let open = true;
    try {
      wrapSync('rename', this.#target, () => renameSync(dir.at(this.#temp), dir.at(this.#name)));
      // The rename moved the ctime: the stat to record is the one after it.
      st = wrapSync('fstat', p, () => fstatSync(fd, { bigint: true }));
      open = false;
      wrapSync('close', p, () => closeSync(fd));
      if (opts.syncDir !== false) await dir.sync();
    } catch (err) {
      if (open) closeQuietly(fd);
      try {
        unlinkSync(dir.at(this.#temp));
      } catch {
        // Safe to swallow: gone already (the rename happened) or removed by the start-up sweep.
      }
      throw err;
    } finally {
      dir.close();
    }
    return toFsStat(st);
  }

  /** Closes and removes the temp file; a no-op after commit or a previous abort. */
  async abort(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'aborted';
    await this.#writeback;
    closeQuietly(this.#fd);
    try {
      unlinkSync(this.#dir.at(this.#temp));
    } catch {
      // Safe to swallow: the temp name is ours and a leftover is harmless (the scanner ignores it).
    } finally {
      this.#dir.close();
    }
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

function readFd(fd: number, buf: Buffer, position: number | null): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}
