// Removes csync's own temp files (`.<name>.csync-<id>.tmp`) left behind by a receiver that was killed
// mid-write. Only safe when no receiver of this node is writing: the daemon runs it before listening.
import type { FileSystem } from '../fs/filesystem.ts';

const TEMP_NAME = /^\..+\.csync-[0-9a-z]+\.tmp$/;

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
        // A temp directory (an interrupted mkdir) is always empty: children go under the real name.
        if (fs.lstat(p)?.kind === 'dir') await fs.rmdir(p);
        else await fs.unlink(p);
        removed.push(p);
      } else if (fs.lstat(p)?.kind === 'dir') await walk(p);
    }
  };
  for (const r of roots) if (fs.lstat(r)?.kind === 'dir') await walk(r);
  return removed;
}
