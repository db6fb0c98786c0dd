// The FileSystem port: everything csync does to a disk, so sync logic runs on memory or real disks alike.
// Metadata calls are synchronous (a sync readdir+lstat walk is 3-5x faster in Node); content I/O is async.

/** What lstat reports, in csync's terms. 'other' covers sockets, fifos and devices (skipped). */
export interface FsStat {
  readonly kind: 'file' | 'dir' | 'symlink' | 'other';
  readonly sizeBytes: number;
  readonly mtimeNs: bigint;
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly ino: number;
  /** Status-change time, where the filesystem reports it (a content write always moves it). */
  readonly ctimeNs?: bigint;
}

/**
 * What a reader trusted about a file before opening it (an lstat or the recorded state). A reader
 * given one compares it with what it actually opened (fstat) and throws CSYNC_LOCAL_CHANGE when
 * they differ: a file swapped or rewritten between the check and the read is never sent as if it
 * were the checked one. mtimes are compared to the microsecond (what states record).
 */
export interface FsExpect {
  readonly sizeBytes: number;
  readonly mtimeNs: bigint;
  readonly ino?: number;
}

/** One entry of a directory listing (listDir). `stat` is undefined when it vanished meanwhile. */
export interface FsDirEntry {
  readonly name: string;
  readonly stat: FsStat | undefined;
}

/** Metadata to set on an entry. Fields left undefined are not changed (e.g. ignored uid/gid). */
export interface FsMetaUpdate {
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly mtimeNs?: bigint;
}

/** Options of PendingWrite.commit. */
export interface CommitOptions {
  /** false: the caller fsyncs the directory once for a batch. */
  readonly syncDir?: boolean;
  /**
   * The target as the caller saw it when it decided to write (`null`: nothing was there). Right
   * before the rename the target is looked at again; if it is not that entry any more (kind,
   * inode, size, mtime, ctime), the write is aborted with CSYNC_LOCAL_CHANGE and the local
   * version stays. Undefined: no check.
   */
  readonly expectTarget?: FsStat | null;
}

/** A file being written to a temp name beside its target; nothing is visible until commit(). */
export interface PendingWrite {
  /** Appends bytes. Resolves once they are handed to the OS (backpressure). */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Sets `meta` on the temp file, fsyncs it, renames it over `target` and fsyncs the directory
   * (unless `syncDir: false`, when the caller fsyncs the directory once for a batch). Resolves
   * with the file's stat as committed (what an lstat of `target` would report right after).
   */
  commit(meta: FsMetaUpdate, opts?: CommitOptions): Promise<FsStat>;
  /** Removes the temp file. Safe to call after a failed write; a no-op after commit. */
  abort(): Promise<void>;
}

/**
 * The filesystem port. Paths are absolute. After confine(anchors), every path strictly below an
 * anchor is confined to it: it is resolved without passing through a symlink (or a directory moved
 * away) below the anchor, and an anchor itself is never replaced, removed or written as a file. Errors are thrown as CsyncError('CSYNC_IO') naming the
 * path and the operation, except where a method documents `undefined` for a missing entry.
 */
export interface FileSystem {
  /**
   * Confines every later operation on a path below one of `anchors` (group roots, backup and
   * conflict dirs) to it (see above). A path whose parent is behind a symlink below an anchor has
   * nothing at it (lstat: undefined); writing, reading or listing there throws CSYNC_PATH_UNSAFE.
   * Replaces the previous set.
   */
  confine(anchors: readonly string[]): void;
  /** lstat (never follows a final symlink); undefined when nothing is there. */
  lstat(path: string): FsStat | undefined;
  /** Names in a directory (no '.'/'..'), unsorted. */
  readdir(path: string): string[];
  /**
   * Names in a directory with each entry's lstat, sorted by name (JavaScript's default string
   * order): the directory is opened once and every entry is looked at through it (a walk never
   * leaves the directory it listed).
   */
  listDir(path: string): FsDirEntry[];
  readlink(path: string): string;
  /**
   * Streams a file's content in chunks of at most `chunkBytes`. The final component is never
   * followed (a symlink there is an error); with `expect`, see FsExpect.
   */
  readChunks(path: string, chunkBytes: number, expect?: FsExpect): AsyncIterable<Uint8Array>;
  /** Reads `length` bytes at `offset` (fewer at end of file). */
  readRange(path: string, offset: number, length: number): Promise<Uint8Array>;
  /** Reads a whole (small) file (never through a final symlink; with `expect`, see FsExpect). */
  readFile(path: string, expect?: FsExpect): Promise<Uint8Array>;
  /** Starts an atomic write of `target` (temp file in the same directory). */
  beginWrite(target: string): Promise<PendingWrite>;
  /** Creates one directory (its parent must exist); no-op if a directory is already there. */
  mkdir(path: string, meta: FsMetaUpdate): Promise<void>;
  /** Atomically creates or replaces a symlink (temp link + rename). Sets uid/gid with lchown when given. */
  symlink(target: string, path: string, meta: FsMetaUpdate): Promise<void>;
  /** Sets metadata on an existing entry (lchown/lutimes for symlinks; mode is skipped for symlinks). */
  setMeta(path: string, meta: FsMetaUpdate): Promise<void>;
  /** Removes a file or symlink; no-op when missing. */
  unlink(path: string): Promise<void>;
  /** Removes an empty directory; no-op when missing. */
  rmdir(path: string): Promise<void>;
  /** rename(2). */
  rename(from: string, to: string): Promise<void>;
  /** Copies a file's content and metadata to `to` atomically (temp + fsync + rename), for backups. */
  copyFile(from: string, to: string): Promise<void>;
  /** fsyncs a directory (after renames into it). */
  fsyncDir(path: string): Promise<void>;
}
