// Removes csync's own temp files left behind by a receiver that was killed mid-write. Only safe when
// no receiver of this node is writing: the daemon runs it before listening.
import type { FileSystem } from '../fs/filesystem.ts';

/**
 * Exactly the names NodeFileSystem gives its temp files (fs/node-fs.ts tempPathFor):
 * `.<name>.csync-<8 hex: per process><counter: 1–6 base-36 digits, < 2^31>.tmp`. Anything else, even
 * `.notes.csync-old.tmp` or `.x.csync-restore.tmp` (a `csync restore` that may be running), is a
 * user's file or another command's and is left alone.
 */
const TEMP_NAME = /^\..+\.csync-[0-9a-f]{8}[0-9a-z]{1,6}\.tmp$/;

/** True when `name` (one path component) is a receiver temp name the start-up sweep may remove. */
export function isReceiverTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/** Walks `roots` (never following symlinks) and unlinks csync temp files; returns their paths. */
export async function sweepTempFiles(fs: FileSystem, roots: Iterable<string>): Promise<string[]> {
  const removed: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = fs.readdir(dir);
    } catch {
      // Unreadable or vanished directory: nothing of ours to remove there.
      return;
    }
    for (const name of names) {
      const p = `${dir}/${name}`;
      if (TEMP_NAME.test(name)) {
        try {
          // A temp directory (an interrupted mkdir) is always empty: children go under the real name.
          if (fs.lstat(p)?.kind === 'dir') await fs.rmdir(p);
          else await fs.unlink(p);
          removed.push(p);
        } catch {
          // Not removable (e.g. a non-empty directory of that name): then it is not ours; keep it.
        }
      } else if (fs.lstat(p)?.kind === 'dir') await walk(p);
    }
  };
  for (const r of roots) if (fs.lstat(r)?.kind === 'dir') await walk(r);
  return removed;
}
