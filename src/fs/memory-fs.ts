// MemoryFileSystem: an in-memory FileSystem for unit and sim tests (syncthing's fakefs). Holds a
// tree of dirs, files and symlinks with POSIX-like errors; never touches the disk or the clock.
import { posix } from 'node:path';
import { CsyncError } from '../core/errors.ts';
import type { CommitOptions, FileSystem, FsDirEntry, FsExpect, FsMetaUpdate, FsStat, PendingWrite } from './filesystem.ts';

interface Meta {
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  readonly ino: number;
  /** Moved to "now" by every change of the node (content, metadata, rename), as on a real disk. */
  ctimeNs: bigint;
}
interface DirNode extends Meta {
  readonly kind: 'dir';
  readonly children: Map<string, Node>;
}
interface FileNode extends Meta {
  readonly kind: 'file';
  content: Uint8Array;
}
interface LinkNode extends Meta {
  readonly kind: 'symlink';
  readonly target: string;
}
type Node = DirNode | FileNode | LinkNode;

/** Options of MemoryFileSystem. */
export interface MemoryFileSystemOptions {
  /** Owner of entries created without a uid/gid (default 1000:1000). */
  readonly uid?: number;
  readonly gid?: number;
  /** Source of mtimes for entries created or changed without one; default a counter (+1 ms per call). */
  readonly nowNs?: () => bigint;
}

const MAX_SYMLINK_HOPS = 40;

/** Builds the CSYNC_IO error every FileSystem method throws: `<op> "<path>": <CODE>`. */
function ioError(op: string, path: string, code: string): CsyncError {
  return new CsyncError('CSYNC_IO', `${op} ${JSON.stringify(path)}: ${code}`, {
    hint: code === 'ENOENT' ? 'the path or its parent directory does not exist' : 'check the path and what is there',
  });
}

/**
 * An in-memory FileSystem: a tree of directories, files (Uint8Array content) and symlinks with
 * mode/uid/gid/mtimeNs and inode numbers. Intermediate symlinks are followed as in POSIX; final
 * ones never are by lstat. Errors are CsyncError('CSYNC_IO') named after the errno
 * (ENOENT, ENOTDIR, EISDIR, ENOTEMPTY, EEXIST, ELOOP). Temp files of pending writes are visible in
 * readdir, as on a real disk. Not thread-safe in any sense; one instance per simulated node.
 */
export class MemoryFileSystem implements FileSystem {
  readonly #root: DirNode;
  readonly #uid: number;
  readonly #gid: number;
  readonly #nowNs: () => bigint;
  #nextIno = 1;
  #nextTemp = 1;
  #anchors: string[] = [];

  constructor(opts: MemoryFileSystemOptions = {}) {
    this.#uid = opts.uid ?? 1000;
    this.#gid = opts.gid ?? 1000;
    let tick = 1_700_000_000_000_000_000n;
    this.#nowNs = opts.nowNs ?? (() => (tick += 1_000_000n));
    this.#root = { kind: 'dir', children: new Map(), ...this.#newMeta({ mode: 0o755 }) };
  }

  /** See FileSystem.confine: no symlink below an anchor is followed; an anchor is never replaced. */
  confine(anchors: readonly string[]): void {
    this.#anchors = anchors.map((a) => posix.normalize(a).replace(/(.)\/$/, '$1'));
  }

  #refuseAnchor(op: string, path: string): void {
    if (this.#anchors.includes(posix.normalize(path))) {
      throw new CsyncError('CSYNC_PATH_UNSAFE', `${JSON.stringify(path)}: ${op} refused: a root is never replaced or removed`);
    }
  }

  /** True when directory component `prefix` (a symlink) lies strictly below an anchor. */
  #belowAnchor(prefix: string): boolean {
    return this.#anchors.some((a) => prefix.startsWith(a === '/' ? '/' : `${a}/`) && prefix !== a);
  }

  /** lstat; undefined when the entry or one of its parents is missing (or a parent is not a dir). */
  lstat(path: string): FsStat | undefined {
    let node: Node | undefined;
    try {
      node = this.#lookup('lstat', path, { missingOk: true });
    } catch (err) {
      if (err instanceof CsyncError && err.code === 'CSYNC_PATH_UNSAFE') return undefined;
      throw err;
    }
    if (node === undefined) return undefined;
    const sizeBytes = node.kind === 'file' ? node.content.length : node.kind === 'symlink' ? node.target.length : 4096;
    return { kind: node.kind, sizeBytes, mtimeNs: node.mtimeNs, mode: node.mode, uid: node.uid, gid: node.gid, ino: node.ino, ctimeNs: node.ctimeNs };
  }

  /** Names in a directory, in insertion order (callers must not rely on order). */
  readdir(path: string): string[] {
    return [...this.#dirAt('readdir', path).children.keys()];
  }

  /** The target of a symlink; EINVAL when the entry is not one. */
  readlink(path: string): string {
    const node = this.#lookup('readlink', path);
    if (node?.kind !== 'symlink') throw ioError('readlink', path, 'EINVAL');
    return node.target;
  }

  /** Names with their lstat; see FileSystem.listDir. */
  listDir(path: string): FsDirEntry[] {
    const dir = this.#dirAt('readdir', path);
    return [...dir.children.keys()].sort().map((name) => ({ name, stat: this.lstat(path === '/' ? `/${name}` : `${path}/${name}`) }));
  }

  /** Yields fresh copies of at most `chunkBytes` bytes; the content is snapshotted at the call. */
  async *readChunks(path: string, chunkBytes: number, expect?: FsExpect): AsyncIterable<Uint8Array> {
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0) throw new Error(`bug: chunkBytes must be > 0, got ${chunkBytes}`);
    const content = this.#readable('read', path, expect).content;
    for (let off = 0; off < content.length; off += chunkBytes) yield content.slice(off, off + chunkBytes);
  }

  /** A copy of up to `length` bytes at `offset`. */
  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.#fileAt('read', path).content.slice(offset, offset + length);
  }

  /** A copy of the whole file. */
  async readFile(path: string, expect?: FsExpect): Promise<Uint8Array> {
    return this.#readable('read', path, expect).content.slice();
  }

  /** The file to read: never through a final symlink, and the one `expect` describes (FsExpect). */
  #readable(op: string, path: string, expect?: FsExpect): FileNode {
    const node = this.#lookup(op, path);
    const changed = (why: string): CsyncError => new CsyncError('CSYNC_LOCAL_CHANGE', `${JSON.stringify(path)}: ${why}`);
    if (node?.kind === 'symlink') throw changed('is a symlink now; csync never reads through one');
    const file = this.#fileAt(op, path);
    if (expect !== undefined && (file.content.length !== expect.sizeBytes || file.mtimeNs / 1000n !== expect.mtimeNs / 1000n
      || (expect.ino !== undefined && expect.ino !== file.ino))) throw changed('changed since it was checked');
    return file;
  }

  /** Creates `.<name>.csync-<n>.tmp` (mode 0600) beside `target`; see PendingWrite. */
  async beginWrite(target: string): Promise<PendingWrite> {
    this.#refuseAnchor('write', target);
    const { dir, name } = this.#parentOf('open', target);
    const tempPath = posix.join(posix.dirname(posix.resolve(target)), `.${name}.csync-${this.#nextTemp++}.tmp`);
    const temp: FileNode = { kind: 'file', content: new Uint8Array(0), ...this.#newMeta({ mode: 0o600 }) };
    dir.children.set(posix.basename(tempPath), temp);
    return new MemoryPendingWrite(temp, {
      current: () => this.lstat(target),
      commit: () => this.#commitTemp(temp, tempPath, target),
      remove: () => this.#removeTemp(temp, tempPath),
    });
  }

  /** Creates one directory; no-op when a directory is already there. */
  async mkdir(path: string, meta: FsMetaUpdate): Promise<void> {
    const { dir, name } = this.#parentOf('mkdir', path);
    const existing = dir.children.get(name);
    if (existing?.kind === 'dir') return;
    if (existing !== undefined) throw ioError('mkdir', path, 'EEXIST');
    dir.children.set(name, { kind: 'dir', children: new Map(), ...this.#newMeta({ mode: 0o755, ...meta }) });
    dir.mtimeNs = this.#nowNs();
  }

  /** Creates or replaces a symlink atomically; EISDIR when a directory is in the way. */
  async symlink(target: string, path: string, meta: FsMetaUpdate): Promise<void> {
    this.#refuseAnchor('symlink', path);
    const { dir, name } = this.#parentOf('symlink', path);
    if (dir.children.get(name)?.kind === 'dir') throw ioError('symlink', path, 'EISDIR');
    dir.children.set(name, { kind: 'symlink', target, ...this.#newMeta({ mode: 0o777, ...meta }) });
    dir.mtimeNs = this.#nowNs();
  }

  /** Sets metadata; mode is ignored for symlinks (as lchmod does not exist on Linux). */
  async setMeta(path: string, meta: FsMetaUpdate): Promise<void> {
    const node = this.#lookup('setMeta', path);
    if (node === undefined) throw ioError('setMeta', path, 'ENOENT');
    applyMeta(node, meta);
    node.ctimeNs = this.#nowNs();
  }

  /** Removes a file or symlink; no-op when missing; EISDIR for a directory. */
  async unlink(path: string): Promise<void> {
    this.#refuseAnchor('unlink', path);
    const parent = this.#parentOf('unlink', path, { missingOk: true });
    const node = parent?.dir.children.get(parent.name);
    if (parent === undefined || node === undefined) return;
    if (node.kind === 'dir') throw ioError('unlink', path, 'EISDIR');
    parent.dir.children.delete(parent.name);
    parent.dir.mtimeNs = this.#nowNs();
  }

  /** Removes an empty directory; no-op when missing; ENOTDIR / ENOTEMPTY otherwise. */
  async rmdir(path: string): Promise<void> {
    this.#refuseAnchor('rmdir', path);
    const parent = this.#parentOf('rmdir', path, { missingOk: true });
    const node = parent?.dir.children.get(parent.name);
    if (parent === undefined || node === undefined) return;
    if (node.kind !== 'dir') throw ioError('rmdir', path, 'ENOTDIR');
    if (node.children.size > 0) throw ioError('rmdir', path, 'ENOTEMPTY');
    parent.dir.children.delete(parent.name);
    parent.dir.mtimeNs = this.#nowNs();
  }

  /** rename(2): replaces a file/symlink or an empty directory; EISDIR/ENOTDIR/ENOTEMPTY/EINVAL as POSIX. */
  async rename(from: string, to: string): Promise<void> {
    this.#refuseAnchor('rename', from);
    this.#refuseAnchor('rename', to);
    const src = this.#parentOf('rename', from);
    const node = src.dir.children.get(src.name);
    if (node === undefined) throw ioError('rename', from, 'ENOENT');
    const dst = this.#parentOf('rename', to);
    const existing = dst.dir.children.get(dst.name);
    if (existing === node) return;
    if (node.kind === 'dir' && isAncestor(node, dst.dir)) throw ioError('rename', to, 'EINVAL');
    if (existing !== undefined) checkReplace('rename', to, node, existing);
    src.dir.children.delete(src.name);
    dst.dir.children.set(dst.name, node);
    node.ctimeNs = this.#nowNs();
    src.dir.mtimeNs = dst.dir.mtimeNs = this.#nowNs();
  }

  /** Copies content, mode, owner and mtime of a regular file to `to`, replacing it atomically. */
  async copyFile(from: string, to: string): Promise<void> {
    const node = this.#fileAt('copyFile', from);
    const { dir, name } = this.#parentOf('copyFile', to);
    const existing = dir.children.get(name);
    if (existing?.kind === 'dir') throw ioError('copyFile', to, 'EISDIR');
    const { mode, uid, gid, mtimeNs } = node;
    dir.children.set(name, { kind: 'file', content: node.content.slice(), ...this.#newMeta({ mode, uid, gid, mtimeNs }) });
  }

  /** No-op beyond checking that the directory exists (memory is always "durable"). */
  async fsyncDir(path: string): Promise<void> {
    this.#dirAt('fsyncDir', path);
  }

  /** Test helper: a file's content, synchronously (a copy). */
  readFileSync(path: string): Uint8Array {
    return this.#fileAt('read', path).content.slice();
  }

  /** Test helper: removes a file, symlink or (recursively) a directory, synchronously, like `rm -rf`. */
  removeSync(path: string): void {
    const { dir, name } = this.#parentOf('unlink', path);
    dir.children.delete(name);
    dir.mtimeNs = this.#nowNs();
  }

  /** Test helper: sets metadata synchronously. */
  setMetaSync(path: string, meta: FsMetaUpdate): void {
    const node = this.#lookup('chmod', path, { missingOk: false }) as Node;
    if (meta.mode !== undefined) node.mode = meta.mode & 0o7777;
    if (meta.uid !== undefined) node.uid = meta.uid;
    if (meta.gid !== undefined) node.gid = meta.gid;
    if (meta.mtimeNs !== undefined) node.mtimeNs = meta.mtimeNs;
    node.ctimeNs = this.#nowNs();
  }

  /** Test helper: creates or replaces a file (parents must exist; see mkdirpSync). */
  writeFileSync(path: string, content: string | Uint8Array, meta: FsMetaUpdate = {}): void {
    const { dir, name } = this.#parentOf('writeFile', path);
    if (dir.children.get(name)?.kind === 'dir') throw ioError('writeFile', path, 'EISDIR');
    const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content.slice();
    dir.children.set(name, { kind: 'file', content: bytes, ...this.#newMeta({ mode: 0o644, ...meta }) });
  }

  /** Test helper: creates a directory and its missing parents (mode 0755). */
  mkdirpSync(path: string): void {
    let current = '/';
    for (const part of posix.resolve(path).split('/').filter((p) => p !== '')) {
      current = posix.join(current, part);
      const { dir, name } = this.#parentOf('mkdir', current);
      const existing = dir.children.get(name);
      if (existing === undefined) dir.children.set(name, { kind: 'dir', children: new Map(), ...this.#newMeta({ mode: 0o755 }) });
      else if (existing.kind !== 'dir') throw ioError('mkdir', current, 'ENOTDIR');
    }
  }

  /** Test helper: creates or replaces a symlink synchronously. */
  symlinkSync(target: string, path: string, meta: FsMetaUpdate = {}): void {
    const { dir, name } = this.#parentOf('symlink', path);
    dir.children.set(name, { kind: 'symlink', target, ...this.#newMeta({ mode: 0o777, ...meta }) });
  }

  /**
   * Test helper: every entry under `root` (excluded) by relative path, described as
   * `file 0644 1000:1000 mtime=<ns> "<utf8 content>"`, `dir 0755 …` or `symlink … -> <target>`,
   * so two nodes' trees compare with deepEqual. `ignoreMtime` drops the mtime part.
   */
  snapshot(root: string, opts: { ignoreMtime?: boolean } = {}): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (dir: DirNode, prefix: string): void => {
      for (const name of [...dir.children.keys()].sort()) {
        const node = dir.children.get(name) as Node;
        const rel = prefix === '' ? name : `${prefix}/${name}`;
        out[rel] = describeNode(node, opts.ignoreMtime === true);
        if (node.kind === 'dir') walk(node, rel);
      }
    };
    walk(this.#dirAt('snapshot', root), '');
    return out;
  }

  /** Renames a pending write's temp file over its target (POSIX rename rules). */
  #commitTemp(temp: FileNode, tempPath: string, target: string): void {
    const dst = this.#parentOf('rename', target);
    const existing = dst.dir.children.get(dst.name);
    if (existing !== undefined) checkReplace('rename', target, temp, existing);
    const src = this.#parentOf('rename', tempPath);
    if (src.dir.children.get(src.name) !== temp) throw ioError('rename', tempPath, 'ENOENT');
    src.dir.children.delete(src.name);
    dst.dir.children.set(dst.name, temp);
    temp.ctimeNs = this.#nowNs();
    dst.dir.mtimeNs = this.#nowNs();
  }

  /** Removes a pending write's temp file if it is still there. */
  #removeTemp(temp: FileNode, tempPath: string): void {
    const src = this.#parentOf('unlink', tempPath, { missingOk: true });
    if (src !== undefined && src.dir.children.get(src.name) === temp) src.dir.children.delete(src.name);
  }

  #newMeta(meta: FsMetaUpdate & { mode: number }): Meta {
    return {
      mode: meta.mode & 0o7777,
      uid: meta.uid ?? this.#uid,
      gid: meta.gid ?? this.#gid,
      mtimeNs: meta.mtimeNs ?? this.#nowNs(),
      ctimeNs: this.#nowNs(),
      ino: this.#nextIno++,
    };
  }

  /** Resolves `path` without following a final symlink. Missing → undefined if missingOk, else ENOENT. */
  #lookup(op: string, path: string, opts: { missingOk?: boolean } = {}): Node | undefined {
    const parent = this.#parentOf(op, path, opts);
    if (parent === undefined) return undefined;
    if (parent.name === '') return this.#root;
    return parent.dir.children.get(parent.name);
  }

  /** The directory holding the last component of `path` (following intermediate symlinks) and that name. */
  #parentOf(op: string, path: string): { dir: DirNode; name: string };
  #parentOf(op: string, path: string, opts: { missingOk?: boolean }, hops?: number): { dir: DirNode; name: string } | undefined;
  #parentOf(op: string, path: string, opts: { missingOk?: boolean } = {}, hops = 0): { dir: DirNode; name: string } | undefined {
    if (!path.startsWith('/')) throw new Error(`bug: MemoryFileSystem paths must be absolute, got ${JSON.stringify(path)}`);
    const parts = posix.normalize(path).split('/').filter((p) => p !== '');
    const name = parts.pop() ?? '';
    let dir = this.#root;
    for (let i = 0; i < parts.length; i++) {
      const node = dir.children.get(parts[i] as string);
      if (node?.kind === 'symlink') {
        const prefix = `/${parts.slice(0, i + 1).join('/')}`;
        if (this.#belowAnchor(prefix)) {
          throw new CsyncError('CSYNC_PATH_UNSAFE', `${JSON.stringify(path)}: ${JSON.stringify(prefix)} is a symlink`, {
            hint: 'csync never reads or writes through a symlinked directory inside a root; fix the tree on this node',
          });
        }
        // Restart the walk on the path with this component replaced by the link's target.
        if (hops >= MAX_SYMLINK_HOPS) throw ioError(op, path, 'ELOOP');
        const base = '/' + parts.slice(0, i).join('/');
        const rest = [...parts.slice(i + 1), name].join('/');
        return this.#parentOf(op, posix.resolve(base, node.target, rest), opts, hops + 1);
      }
      if (node === undefined || node.kind !== 'dir') {
        if (opts.missingOk === true) return undefined;
        throw ioError(op, path, node === undefined ? 'ENOENT' : 'ENOTDIR');
      }
      dir = node;
    }
    return { dir, name };
  }

  #dirAt(op: string, path: string): DirNode {
    const node = this.#lookup(op, path);
    if (node === undefined) throw ioError(op, path, 'ENOENT');
    if (node.kind !== 'dir') throw ioError(op, path, 'ENOTDIR');
    return node;
  }

  #fileAt(op: string, path: string): FileNode {
    const node = this.#lookup(op, path);
    if (node === undefined) throw ioError(op, path, 'ENOENT');
    if (node.kind !== 'file') throw ioError(op, path, node.kind === 'dir' ? 'EISDIR' : 'EINVAL');
    return node;
  }
}

/** A write in progress on a MemoryFileSystem temp file. */
class MemoryPendingWrite implements PendingWrite {
  #state: 'open' | 'committed' | 'aborted' = 'open';
  readonly #chunks: Uint8Array[] = [];
  readonly #temp: FileNode;
  readonly #ops: { current(): FsStat | undefined; commit(): void; remove(): void };

  constructor(temp: FileNode, ops: { current(): FsStat | undefined; commit(): void; remove(): void }) {
    this.#temp = temp;
    this.#ops = ops;
  }

  /** Buffers a copy of `chunk`; the temp file's content is assembled once, at commit. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.#state !== 'open') throw new Error(`bug: write after ${this.#state}`);
    this.#chunks.push(chunk.slice());
  }

  async commit(meta: FsMetaUpdate, opts: CommitOptions = {}): Promise<FsStat> {
    if (this.#state !== 'open') throw new Error(`bug: commit after ${this.#state}`);
    if (opts.expectTarget !== undefined) {
      const now = this.#ops.current();
      const before = opts.expectTarget;
      const same = before === null ? now === undefined
        : now !== undefined && now.kind === before.kind && now.ino === before.ino && now.sizeBytes === before.sizeBytes && now.mtimeNs === before.mtimeNs;
      if (!same) {
        await this.abort();
        throw new CsyncError('CSYNC_LOCAL_CHANGE', 'target changed on this node while the new version was being received');
      }
    }
    const node = this.#temp;
    node.content = concat(this.#chunks);
    applyMeta(node, meta);
    this.#ops.commit();
    this.#state = 'committed';
    return { kind: 'file', sizeBytes: node.content.length, mtimeNs: node.mtimeNs, mode: node.mode, uid: node.uid, gid: node.gid, ino: node.ino, ctimeNs: node.ctimeNs };
  }

  async abort(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'aborted';
    this.#ops.remove();
  }
}

function applyMeta(node: Node, meta: FsMetaUpdate): void {
  if (meta.mode !== undefined && node.kind !== 'symlink') node.mode = meta.mode & 0o7777;
  if (meta.uid !== undefined) node.uid = meta.uid;
  if (meta.gid !== undefined) node.gid = meta.gid;
  if (meta.mtimeNs !== undefined) node.mtimeNs = meta.mtimeNs;
}

/** POSIX rename rules for replacing `existing` with `node`. */
function checkReplace(op: string, path: string, node: Node, existing: Node): void {
  if (existing.kind === 'dir' && node.kind !== 'dir') throw ioError(op, path, 'EISDIR');
  if (existing.kind !== 'dir' && node.kind === 'dir') throw ioError(op, path, 'ENOTDIR');
  if (existing.kind === 'dir' && existing.children.size > 0) throw ioError(op, path, 'ENOTEMPTY');
}

function isAncestor(dir: DirNode, candidate: DirNode): boolean {
  if (dir === candidate) return true;
  for (const child of dir.children.values()) {
    if (child.kind === 'dir' && isAncestor(child, candidate)) return true;
  }
  return false;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

function describeNode(node: Node, ignoreMtime: boolean): string {
  const head = `${node.kind} ${node.mode.toString(8).padStart(4, '0')} ${node.uid}:${node.gid}`;
  const mtime = ignoreMtime ? '' : ` mtime=${node.mtimeNs}`;
  if (node.kind === 'dir') return head + mtime;
  if (node.kind === 'symlink') return `${head}${mtime} -> ${node.target}`;
  return `${head}${mtime} ${describeContent(node.content)}`;
}

function describeContent(content: Uint8Array): string {
  try {
    return JSON.stringify(new TextDecoder('utf-8', { fatal: true }).decode(content));
  } catch {
    // Not UTF-8: describe the bytes in hex instead, which is exact.
    return `hex:${[...content].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  }
}
