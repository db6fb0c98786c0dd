// Finds local changes under one root: walks the disk, compares with recorded states, returns new states.
// It never writes: the caller records the result and marks it dirty. Unchanged size+mtime is not re-read.
import { CsyncError } from '../core/errors.ts';
import { childRel, toRelPath } from '../core/paths.ts';
import { rootEmptied } from '../core/safety.ts';
import { bumpVersion } from '../core/version.ts';
import type { FileMeta, FileState, IgnoredAttr, LogicalPath, NodeName, RelPath, RootId } from '../core/types.ts';
import { logicalPath } from '../core/types.ts';
import type { FileSystem, FsDirEntry, FsExpect, FsStat } from '../fs/filesystem.ts';
import { parseScanSig } from '../store/state-store.ts';
import type { ScanRow, ScanSig } from '../store/state-store.ts';
import type { Hasher } from './hasher.ts';

/** What the scanner needs to know of the past (a narrow view of StateStore). */
export interface KnownStates {
  scanIndex(prefix: string): Map<string, ScanSig>;
  get(path: LogicalPath): FileState | undefined;
}

/** One per-entry problem; the scan goes on. */
export interface ScanProblem {
  readonly path: string;
  readonly message: string;
  /** True for a name csync refuses by design (it is never synced; checking again cannot help). */
  readonly refused?: boolean;
}

/** Result of scan(): new states to record, problems, and counters for reports. */
export interface ScanResult {
  /** The new states, unless `onChanges` took them (then empty). */
  readonly changed: FileState[];
  /** Why each changed entry counts as changed (for `-v`), same order as `changed`. */
  readonly why: string[];
  /** How many states changed (handed to `onChanges` or kept in `changed`). */
  readonly changedCount: number;
  readonly problems: ScanProblem[];
  /** Set when a safety rail tripped; no deletions were reported then. */
  readonly halted: CsyncError | undefined;
  readonly entriesSeen: number;
  readonly bytesHashed: number;
}

/** Inputs of scan(). `rel` is where to start below `root`; '' is the whole root. */
export interface ScanOptions {
  readonly fs: FileSystem;
  readonly hasher: Hasher;
  readonly known: KnownStates;
  readonly root: RootId;
  readonly absRoot: string;
  readonly rel: RelPath;
  readonly recursive: boolean;
  readonly isExcluded: (logical: string) => boolean;
  readonly ignore: readonly IgnoredAttr[];
  readonly self: NodeName;
  readonly nowMs: number;
  /** Let a scan that empties a root record the deletions (`--allow-mass-delete`). */
  readonly allowMassDelete: boolean;
  /** Called as files are hashed (for progress on a terminal): totals so far. */
  readonly onHashed?: (files: number, bytes: number) => void;
  /**
   * Takes the new states in batches while the walk goes on (deletions last, only if no rail
   * tripped), so a check of a large tree never holds all of them; `changed` stays empty then.
   */
  readonly onChanges?: (states: readonly FileState[], why: readonly string[], localSigs: readonly (string | undefined)[]) => void;
  /**
   * Takes the local signatures of files found unchanged by hashing (their recorded signature was
   * missing, racy or stale): recording them lets the next check skip the read (StateStore.setLocalSigs).
   */
  readonly onLocalSigs?: (sigs: readonly (readonly [LogicalPath, string, string])[]) => void;
}

interface Seen {
  readonly path: LogicalPath;
  readonly abs: string;
  readonly stat: FsStat;
}

const HASH_CONCURRENCY = 16;
/** Changed entries handed on (and files hashed) per batch. */
const BATCH = 1024;
/** csync's own temp files (fs/node-fs.ts, fs/memory-fs.ts) are never synced. */
const TEMP_NAME = /^\..+\.csync-[0-9a-z]+\.tmp$/;
const CHUNK_BYTES = 1024 * 1024;

/** Scans one root (or a path below it) and returns the changes. Throws only on bugs. */
export async function scan(opts: ScanOptions): Promise<ScanResult> {
  const start = logicalPath(opts.root, opts.rel);
  const known = opts.known.scanIndex(start);
  if (!opts.recursive) for (const p of known.keys()) if (p !== start) known.delete(p);
  let liveBefore = 0;
  for (const [path, sig] of known) if (!sig.startsWith('deleted ') && path !== opts.root) liveBefore++;
  const problems: ScanProblem[] = [];
  const kept = { changed: [] as FileState[], why: [] as string[] };
  const emit = opts.onChanges ?? ((states: readonly FileState[], why: readonly string[]): void => {
    kept.changed.push(...states);
    kept.why.push(...why);
  });
  // Entries are compared as the walk meets them and then dropped: only changed entries (and files
  // to hash) wait, a batch at a time, and every seen path leaves `known`, whose remainder is what
  // was not seen. Memory follows one batch, not the tree or the changes.
  let pending: Slot[] = [];
  const nowNs = BigInt(opts.nowMs) * 1_000_000n;
  const racyFromNs = nowNs - RACY_WINDOW_NS;
  let entriesSeen = 0;
  let changedCount = 0;
  // Totals over every batch: files and bytes hashed (for progress and the result).
  const hashed = { files: 0, bytes: 0 };
  const flush = async (): Promise<void> => {
    const slots = pending;
    pending = [];
    await hashSlots(opts, slots, problems, hashed);
    const states: FileState[] = [];
    const why: string[] = [];
    const sigs: (string | undefined)[] = [];
    const freshSigs: [LogicalPath, string, string][] = [];
    for (const slot of slots) {
      if (slot.meta === undefined) continue;
      const row = slot.row;
      if (row !== undefined && row.kind !== 'deleted' && rowMatches(row, slot.meta, opts.ignore)) {
        if (slot.localSig !== '' && slot.localSig !== row.localSig && slot.meta.hash !== undefined) freshSigs.push([slot.path, slot.localSig, slot.meta.hash]);
        continue;
      }
      const prev = row === undefined ? undefined : opts.known.get(slot.path);
      states.push(newState(opts, slot.path, slot.meta, prev));
      why.push(explain(prev?.meta, slot.meta));
      sigs.push(slot.localSig === '' ? undefined : slot.localSig);
    }
    changedCount += states.length;
    if (states.length > 0) emit(states, why, sigs);
    if (freshSigs.length > 0) opts.onLocalSigs?.(freshSigs);
  };
  for (const entry of walk(opts, opts.rel, problems)) {
    entriesSeen++;
    const sig = known.get(entry.path);
    known.delete(entry.path);
    if (sig !== undefined && unchangedFile(sig, entry.stat, racyFromNs)) continue;
    const ls = localSig(entry.stat, nowNs);
    const row = sig === undefined ? undefined : parseScanSig(sig);
    let meta: FileMeta;
    try {
      meta = metaOf(opts, entry, row, ls);
    } catch (err) {
      problems.push({ path: entry.path, message: errorText(err) });
      continue;
    }
    const needsHash = entry.stat.kind === 'file' && meta.hash === undefined;
    if (!needsHash && row !== undefined && row.kind !== 'deleted' && rowMatches(row, meta, opts.ignore)) continue;
    pending.push({ path: entry.path, abs: entry.abs, sizeBytes: entry.stat.sizeBytes, ino: entry.stat.ino, localSig: ls, meta, row, needsHash });
    if (pending.length >= BATCH) await flush();
  }
  await flush();

  // Deletions: recorded live entries not seen (and not excluded now) become tombstones.
  const deletions: FileState[] = [];
  for (const [path, sig] of known) {
    if (sig.startsWith('deleted ') || opts.isExcluded(path)) continue;
    deletions.push(newState(opts, path as LogicalPath, TOMBSTONE, opts.known.get(path as LogicalPath)));
  }
  const halted = checkRootSafety(opts, liveBefore, entriesSeen, deletions.length);
  if (halted === undefined) {
    for (let i = 0; i < deletions.length; i += BATCH) {
      const part = deletions.slice(i, i + BATCH);
      emit(part, part.map(() => 'deleted'), part.map(() => undefined));
    }
    changedCount += deletions.length;
  }
  return { ...kept, changedCount, problems, halted, entriesSeen, bytesHashed: hashed.bytes };
}

/**
 * The fast path of a check, taken by nearly every entry: a file whose kind, size, mtime, mode,
 * owner and local signature (inode and ctime, not racy: see localSig) are exactly as recorded, with
 * a recorded hash, is unchanged (the same test as metaOf's hash reuse and rowMatches, without
 * parsing the row). Anything else takes the full comparison, which hashes the file. Written as one
 * string built per entry and no bigint arithmetic but one division: it runs for every file of
 * every check, mostly before the JIT has warmed up.
 */
function unchangedFile(sig: ScanSig, st: FsStat, racyFromNs: bigint): boolean {
  if (st.kind !== 'file' || st.ctimeNs === undefined || st.ctimeNs > racyFromNs || st.mtimeNs > racyFromNs) return false;
  const us = st.mtimeNs / 1000n;
  // scanSigPrefix() with toMicros(), then the local signature: the layout of a ScanSig.
  const key = `file ${st.sizeBytes} ${us === 0n ? '0' : `${us}000`} ${st.mode} ${st.uid} ${st.gid} ${st.ino}:${st.ctimeNs} `;
  return sig.startsWith(key) && sig.length > key.length && sig.charCodeAt(key.length) !== 32;
}

/**
 * Changes newer than this, as the scan began, are "racy" (git's racily-clean entries): a second
 * write of the same size within one timestamp tick leaves mtime and ctime as they were, so a file
 * recorded that close to its last change is hashed again by the next check. Two seconds cover the
 * coarsest timestamps csync meets (1 s on ext3, 2 s on FAT).
 */
const RACY_WINDOW_NS = 2_000_000_000n;

/**
 * What this node's disk shows of a file beyond its synced metadata: `<inode>:<ctime ns>` (a content
 * write always moves the ctime, and no user can set it back), or '' when it cannot be trusted (no
 * ctime, or a change inside the racy window).
 */
export function localSig(st: FsStat, nowNs: bigint): string {
  if (st.kind !== 'file' || st.ctimeNs === undefined) return '';
  const last = st.ctimeNs > st.mtimeNs ? st.ctimeNs : st.mtimeNs;
  return nowNs - last < RACY_WINDOW_NS ? '' : `${st.ino}:${st.ctimeNs}`;
}

/** A seen entry that changed or still needs its hash; `meta` is dropped when it cannot be read. */
interface Slot {
  readonly path: LogicalPath;
  readonly abs: string;
  readonly sizeBytes: number;
  readonly ino: number;
  readonly localSig: string;
  meta: FileMeta | undefined;
  readonly row: ScanRow | undefined;
  readonly needsHash: boolean;
}

/** Hashes the slots that need it, HASH_CONCURRENCY at a time, adding to the running `hashed` totals. */
async function hashSlots(opts: ScanOptions, slots: readonly Slot[], problems: ScanProblem[], hashed: { files: number; bytes: number }): Promise<void> {
  const toHash = slots.filter((s) => s.needsHash);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < toHash.length) {
      const slot = toHash[next++] as Slot;
      try {
        const hash = await hashFile(opts, slot.abs, { sizeBytes: slot.sizeBytes, mtimeNs: (slot.meta as FileMeta).mtimeNs, ino: slot.ino });
        slot.meta = { ...(slot.meta as FileMeta), hash };
        hashed.bytes += slot.sizeBytes;
        opts.onHashed?.(++hashed.files, hashed.bytes);
      } catch (err) {
        // Unreadable now: reported, and neither recorded as changed nor as deleted.
        problems.push({ path: slot.path, message: errorText(err) });
        slot.meta = undefined;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(HASH_CONCURRENCY, toHash.length) }, worker));
}

/**
 * sameMeta() (core/decide.ts) on a ScanRow: the scan compares every recorded entry on every check,
 * so it compares the narrow row directly instead of building a FileMeta (a bigint) for each.
 */
function rowMatches(row: ScanRow, meta: FileMeta, ignore: readonly IgnoredAttr[]): boolean {
  if (row.kind !== meta.kind) return false;
  if (meta.kind === 'file' && (row.hash !== meta.hash || row.sizeBytes !== meta.sizeBytes || row.mtimeNs !== String(meta.mtimeNs))) return false;
  if (meta.kind === 'symlink' && row.target !== meta.target) return false;
  if (meta.kind !== 'symlink' && !ignore.includes('mode') && row.mode !== meta.mode) return false;
  if (!ignore.includes('uid') && row.uid !== meta.uid) return false;
  if (!ignore.includes('gid') && row.gid !== meta.gid) return false;
  return true;
}

/** A short reason for `-v`: new, recreated, content, kind, metadata (which fields). */
function explain(prev: FileMeta | undefined, now: FileMeta): string {
  if (prev === undefined) return 'new';
  if (prev.kind === 'deleted') return 'recreated';
  if (prev.kind !== now.kind) return `kind ${prev.kind} -> ${now.kind}`;
  if (prev.hash !== now.hash || prev.sizeBytes !== now.sizeBytes || prev.target !== now.target) return 'content changed';
  const fields = (['mode', 'uid', 'gid', 'mtimeNs'] as const).filter((f) => prev[f] !== now[f]);
  return `metadata changed (${fields.join(', ')})`;
}

/** The meta of a deleted entry. */
export const TOMBSTONE: FileMeta = { kind: 'deleted', sizeBytes: 0, mtimeNs: 0n, mode: 0, uid: 0, gid: 0 };

function newState(opts: ScanOptions, path: LogicalPath, meta: FileMeta, prev: FileState | undefined): FileState {
  return { path, meta, version: bumpVersion(prev?.version ?? {}, opts.self), origin: opts.self, changedAtMs: opts.nowMs };
}

function checkRootSafety(opts: ScanOptions, liveBefore: number, seenCount: number, deletions: number): CsyncError | undefined {
  if (opts.allowMassDelete || opts.rel !== '' || deletions === 0) return undefined;
  const liveNow = Math.max(0, seenCount - 1);
  if (!rootEmptied({ liveBefore, liveNow })) return undefined;
  return new CsyncError(
    'CSYNC_SYNC_HALTED_FOR_SAFETY',
    `root ${JSON.stringify(opts.absRoot)}: it ${seenCount === 0 ? 'is missing' : 'has become empty'} but ${liveBefore} entries were recorded`,
    { hint: 'mount or restore the directory; if the deletion is intended, run again with --allow-mass-delete' },
  );
}

/**
 * Synchronous walk (3-5x faster than an async one for many small files), as a generator so the
 * caller can hash and hand on a batch between two entries. Parents come before their children.
 */
function* walk(opts: ScanOptions, rel: RelPath, problems: ScanProblem[]): Generator<Seen, void, undefined> {
  const path = logicalPath(opts.root, rel);
  if (rel !== '' && opts.isExcluded(path)) return;
  const abs = rel === '' ? opts.absRoot : `${opts.absRoot}/${rel}`;
  let stat: FsStat | undefined;
  try {
    stat = opts.fs.lstat(abs);
  } catch (err) {
    problems.push({ path, message: errorText(err) });
    return;
  }
  if (stat !== undefined) yield* visit(opts, { path, abs, stat }, rel, problems);
}

/**
 * Yields an entry and, for a directory, everything below it. A directory's entries are listed and
 * looked at through the directory itself (FileSystem.listDir), and only a directory is descended
 * into: a walk never passes through a symlink, even one swapped in while it runs.
 */
function* visit(opts: ScanOptions, entry: Seen, rel: RelPath, problems: ScanProblem[]): Generator<Seen, void, undefined> {
  if (entry.stat.kind === 'other') {
    // Reported once and listed by `csync status`, like a refused name: it is not an error to retry.
    problems.push({ path: entry.path, message: 'skipped: not a regular file, directory or symlink', refused: true });
    return;
  }
  yield entry;
  if (entry.stat.kind !== 'dir' || !opts.recursive) return;
  let entries: FsDirEntry[];
  try {
    entries = opts.fs.listDir(entry.abs);
  } catch (err) {
    problems.push({ path: entry.path, message: errorText(err) });
    return;
  }
  for (const { name, stat } of entries) {
    if (TEMP_NAME.test(name) || stat === undefined) continue;
    let child: RelPath;
    try {
      child = childRel(rel, name);
    } catch (err) {
      problems.push({ path: `${entry.path}/${name}`, message: errorText(err), refused: true });
      continue;
    }
    const path = logicalPath(opts.root, child);
    if (opts.isExcluded(path)) continue;
    yield* visit(opts, { path, abs: `${opts.absRoot}/${child}`, stat }, child, problems);
  }
}

/**
 * mtimes are kept to the microsecond: Node can only set times as double seconds, so finer digits
 * would not survive being applied on a peer and every apply would look like a new local change.
 */
export function toMicros(mtimeNs: bigint): bigint {
  return (mtimeNs / 1000n) * 1000n;
}

function metaOf(opts: ScanOptions, entry: Seen, prev: ScanRow | undefined, ls: string): FileMeta {
  const st = entry.stat;
  const mtimeNs = toMicros(st.mtimeNs);
  const base = { mode: st.mode, uid: st.uid, gid: st.gid };
  if (st.kind === 'dir') return { kind: 'dir', sizeBytes: 0, mtimeNs, ...base };
  if (st.kind === 'symlink') {
    return { kind: 'symlink', sizeBytes: 0, mtimeNs, ...base, target: opts.fs.readlink(entry.abs) };
  }
  // The recorded hash is reused only for the very same file, untouched since (see localSig).
  const reuse = prev?.kind === 'file' && prev.sizeBytes === st.sizeBytes && prev.mtimeNs === String(mtimeNs) && ls !== '' && prev.localSig === ls;
  const meta: FileMeta = { kind: 'file', sizeBytes: st.sizeBytes, mtimeNs, ...base };
  return reuse && prev.hash !== undefined ? { ...meta, hash: prev.hash } : meta;
}

/**
 * Hashes a file's content by streaming it. With `expect` (what the walk's lstat saw), a file
 * swapped or rewritten before it was opened is refused (CSYNC_LOCAL_CHANGE), never hashed as if it
 * were the entry the walk saw.
 */
export async function hashFile(opts: { fs: FileSystem; hasher: Hasher }, abs: string, expect?: FsExpect): Promise<string> {
  const h = opts.hasher.start();
  for await (const chunk of opts.fs.readChunks(abs, CHUNK_BYTES, expect)) h.update(chunk);
  return h.digestHex();
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Converts a user-supplied path below `absRoot` into a RelPath, or undefined if it is not below it. */
export function relUnder(absRoot: string, absPath: string): RelPath | undefined {
  const root = absRoot.endsWith('/') && absRoot !== '/' ? absRoot.slice(0, -1) : absRoot;
  const p = absPath.length > 1 && absPath.endsWith('/') ? absPath.slice(0, -1) : absPath;
  if (p === root) return '' as RelPath;
  const lead = root === '/' ? '/' : `${root}/`;
  if (!p.startsWith(lead)) return undefined;
  return toRelPath(p.slice(lead.length));
}
