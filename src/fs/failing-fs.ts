// FailingFileSystem: wraps any FileSystem and injects CSYNC_IO failures chosen by a predicate
// (syncthing's errorfs), so tests can prove that a failed write/rename/backup loses nothing.
import { CsyncError } from '../core/errors.ts';
import type { FileSystem, FsDirEntry, FsExpect, FsMetaUpdate, FsStat, PendingWrite } from './filesystem.ts';

/**
 * Which operations fail. `op` is the FileSystem method name (`lstat`, `rename`, `copyFile`, …) or,
 * for a pending write, `write`, `commit` or `abort` with the write's target path. Two-path methods
 * (`rename`, `copyFile`, `symlink`) are asked about each path they touch: rename/copyFile with
 * `from` then `to`, symlink with the link path only.
 */
export interface FailingFileSystemOptions {
  readonly failOn: (op: string, path: string) => boolean;
}

/**
 * A FileSystem that delegates to `inner` but throws CsyncError('CSYNC_IO') — message
 * `<op> "<path>": injected failure` — before any operation `failOn` selects; the inner filesystem
 * is then left untouched by that call. `readChunks` fails before yielding its first chunk.
 */
export class FailingFileSystem implements FileSystem {
  readonly #inner: FileSystem;
  readonly #failOn: (op: string, path: string) => boolean;

  constructor(inner: FileSystem, opts: FailingFileSystemOptions) {
    this.#inner = inner;
    this.#failOn = opts.failOn;
  }

  confine(anchors: readonly string[]): void {
    this.#inner.confine(anchors);
  }
  listDir(path: string): FsDirEntry[] {
    this.#check('listDir', path);
    return this.#inner.listDir(path);
  }
  lstat(path: string): FsStat | undefined {
    this.#check('lstat', path);
    return this.#inner.lstat(path);
  }
  readdir(path: string): string[] {
    this.#check('readdir', path);
    return this.#inner.readdir(path);
  }
  readlink(path: string): string {
    this.#check('readlink', path);
    return this.#inner.readlink(path);
  }
  async *readChunks(path: string, chunkBytes: number, expect?: FsExpect): AsyncIterable<Uint8Array> {
    this.#check('readChunks', path);
    yield* this.#inner.readChunks(path, chunkBytes, expect);
  }
  async readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    this.#check('readRange', path);
    return this.#inner.readRange(path, offset, length);
  }
  async readFile(path: string, expect?: FsExpect): Promise<Uint8Array> {
    this.#check('readFile', path);
    return this.#inner.readFile(path, expect);
  }
  async beginWrite(target: string): Promise<PendingWrite> {
    this.#check('beginWrite', target);
    const inner = await this.#inner.beginWrite(target);
    const check = (op: string): void => this.#check(op, target);
    return {
      write: async (chunk) => {
        check('write');
        await inner.write(chunk);
      },
      commit: async (meta, opts) => {
        check('commit');
        return inner.commit(meta, opts);
      },
      abort: async () => {
        check('abort');
        await inner.abort();
      },
    };
  }
  async mkdir(path: string, meta: FsMetaUpdate): Promise<void> {
    this.#check('mkdir', path);
    await this.#inner.mkdir(path, meta);
  }
  async symlink(target: string, path: string, meta: FsMetaUpdate): Promise<void> {
    this.#check('symlink', path);
    await this.#inner.symlink(target, path, meta);
  }
  async setMeta(path: string, meta: FsMetaUpdate): Promise<void> {
    this.#check('setMeta', path);
    await this.#inner.setMeta(path, meta);
  }
  async unlink(path: string): Promise<void> {
    this.#check('unlink', path);
    await this.#inner.unlink(path);
  }
  async rmdir(path: string): Promise<void> {
    this.#check('rmdir', path);
    await this.#inner.rmdir(path);
  }
  async rename(from: string, to: string): Promise<void> {
    this.#check('rename', from);
    this.#check('rename', to);
    await this.#inner.rename(from, to);
  }
  async copyFile(from: string, to: string): Promise<void> {
    this.#check('copyFile', from);
    this.#check('copyFile', to);
    await this.#inner.copyFile(from, to);
  }
  async fsyncDir(path: string): Promise<void> {
    this.#check('fsyncDir', path);
    await this.#inner.fsyncDir(path);
  }

  #check(op: string, path: string): void {
    if (this.#failOn(op, path)) {
      throw new CsyncError('CSYNC_IO', `${op} ${JSON.stringify(path)}: injected failure`, {
        hint: 'this failure was injected by FailingFileSystem (tests only)',
      });
    }
  }
}
