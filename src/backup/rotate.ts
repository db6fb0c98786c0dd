// Backups before overwrite/delete: executes core/generations plans on a FileSystem (renames,
// deletes, one copy). Decides nothing itself; does not log (callers log the returned path).
import { CsyncError } from '../core/errors.ts';
import { generationPath, parseGenerationName, planGenerations } from '../core/generations.ts';
import type { FileSystem, FsStat } from '../fs/filesystem.ts';

/** Options of backupBeforeOverwrite. */
export interface BackupOptions {
  /** Absolute backup root (`backup_dir`); created with its missing parents when needed. */
  readonly backupDir: string;
  /** How many generations to keep (`backup_generations`); 0 disables backups. */
  readonly generations: number;
  /** Absolute local path of the entry about to be overwritten or deleted. */
  readonly path: string;
}

/** One existing backup generation of a path. */
export interface BackupGeneration {
  /** 0 = newest (the bare name), n = `name.n`. */
  readonly generation: number;
  readonly path: string;
  readonly stat: FsStat;
}

/** Mode of directories csync creates under the backup root: backups may hold private data. */
const BACKUP_DIR_MODE = 0o700;

/**
 * Backs up the file or symlink at `opts.path` to `${backupDir}${path}` before it is overwritten or
 * deleted, rotating older backups to `.1` … `.${generations-1}` (oldest dropped). Content, mode,
 * owner and mtime are preserved (symlinks are recreated with the same target).
 *
 * Returns the backup path, or undefined when nothing was backed up: generations is 0, the path is
 * missing, or it is a directory or special file (a directory's files are backed up one by one).
 * Throws CsyncError('CSYNC_IO') when the backup cannot be made; the caller must then not overwrite.
 * Throws a bug Error for a relative path or a path with '.'/'..' components.
 */
export async function backupBeforeOverwrite(fs: FileSystem, opts: BackupOptions): Promise<string | undefined> {
  if (opts.generations <= 0) return undefined;
  const stat = fs.lstat(opts.path);
  if (stat === undefined || (stat.kind !== 'file' && stat.kind !== 'symlink')) return undefined;

  const barePath = backupPathFor(opts.backupDir, opts.path);
  const { dir } = splitPath(barePath);
  await mkdirAll(fs, dir, opts);
  const existing = listGenerations(fs, opts.backupDir, opts.path).map((g) => g.generation);
  const plan = planGenerations(existing, opts.generations);

  // Removes first (they free names), then shifts in plan order, then the copy to the bare name.
  for (const g of plan.remove) await fs.unlink(generationPath(barePath, g));
  for (const s of plan.shifts) await fs.rename(generationPath(barePath, s.from), generationPath(barePath, s.to));
  if (stat.kind === 'file') {
    await fs.copyFile(opts.path, barePath);
  } else {
    await fs.symlink(fs.readlink(opts.path), barePath, { uid: stat.uid, gid: stat.gid, mtimeNs: stat.mtimeNs });
  }
  await fs.fsyncDir(dir);
  return barePath;
}

/**
 * Lists the existing backup generations of absolute `path` under `backupDir`, newest first
 * (generation 0, 1, …). Returns [] when the backup directory for the path does not exist.
 * Throws CsyncError('CSYNC_IO') when it exists but cannot be read.
 */
export function listGenerations(fs: FileSystem, backupDir: string, path: string): BackupGeneration[] {
  const barePath = backupPathFor(backupDir, path);
  const { dir, name } = splitPath(barePath);
  if (fs.lstat(dir)?.kind !== 'dir') return [];
  const found: BackupGeneration[] = [];
  for (const entry of fs.readdir(dir)) {
    const generation = parseGenerationName(name, entry);
    if (generation === undefined) continue;
    const entryPath = generationPath(barePath, generation);
    const stat = fs.lstat(entryPath);
    if (stat !== undefined) found.push({ generation, path: entryPath, stat });
  }
  return found.sort((a, b) => a.generation - b.generation);
}

/** `${backupDir}${path}` for an absolute, normalised `path` (csync2's layout). */
export function backupPathFor(backupDir: string, path: string): string {
  if (!path.startsWith('/') || path.length < 2) throw new Error(`bug: backup path must be absolute, got ${JSON.stringify(path)}`);
  const parts = path.slice(1).split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`bug: backup path must be normalised, got ${JSON.stringify(path)}`);
  }
  return `${backupDir.replace(/\/+$/, '')}${path}`;
}

function splitPath(p: string): { dir: string; name: string } {
  const i = p.lastIndexOf('/');
  return { dir: i <= 0 ? '/' : p.slice(0, i), name: p.slice(i + 1) };
}

/**
 * Creates `dir` and its missing ancestors (mode 0700). An ancestor below the backup root that is a
 * file or symlink is the backup of a path that was a file and is a directory now (`d` was a file,
 * then `d/f2` is overwritten): it moves one generation older (`d` → `d.1`, as a new backup of `d`
 * would move it; at least one older generation is kept for it) and the directory takes the bare
 * name. Anything else in the way fails with CSYNC_IO: the caller then does not overwrite.
 */
async function mkdirAll(fs: FileSystem, dir: string, opts: Pick<BackupOptions, 'backupDir' | 'generations'>): Promise<void> {
  const root = opts.backupDir.replace(/\/+$/, '');
  const parts = dir.split('/').filter((p) => p !== '');
  let current = '';
  for (const part of parts) {
    current = `${current}/${part}`;
    let st = fs.lstat(current);
    if (st !== undefined && st.kind !== 'dir' && current.startsWith(`${root}/`) && (st.kind === 'file' || st.kind === 'symlink')) {
      await displace(fs, current, Math.max(2, opts.generations));
      st = fs.lstat(current);
    }
    if (st === undefined) {
      await fs.mkdir(current, { mode: BACKUP_DIR_MODE });
    } else if (st.kind !== 'dir') {
      throw new CsyncError('CSYNC_IO', `backup directory ${JSON.stringify(current)}: not a directory`, {
        hint: 'move the file that is in the way out of the backup directory, or change backup_dir',
      });
    }
  }
}

/** Moves the backups of the file whose bare backup name is `bare` one generation older, freeing `bare`. */
async function displace(fs: FileSystem, bare: string, keep: number): Promise<void> {
  const { dir, name } = splitPath(bare);
  const existing = fs.readdir(dir).map((e) => parseGenerationName(name, e)).filter((g): g is number => g !== undefined);
  const plan = planGenerations(existing, keep);
  for (const g of plan.remove) {
    const kind = fs.lstat(generationPath(bare, g))?.kind;
    if (kind !== 'file' && kind !== 'symlink') throw new CsyncError('CSYNC_IO', `backup ${JSON.stringify(generationPath(bare, g))}: a directory where an old backup generation would be dropped`, { hint: 'move it out of the backup directory' });
    await fs.unlink(generationPath(bare, g));
  }
  for (const m of plan.shifts) await fs.rename(generationPath(bare, m.from), generationPath(bare, m.to));
  await fs.fsyncDir(dir);
}
