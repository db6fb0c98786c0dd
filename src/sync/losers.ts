// Keeps the losing side of an auto-resolved conflict (SPEC §4.3): with backups configured the
// overwrite itself makes a backup generation; without, the content is copied to the state dir's
// conflicts/ folder, named after the path, the losing origin and the time of its change.
import type { FileState } from '../core/types.ts';
import type { SyncContext } from './context.ts';
import type { Target } from './scope.ts';

/** True when overwriting the target will already keep a backup generation. */
export function backupsConfigured(t: Target): boolean {
  return t.group.backupDir !== undefined && t.group.config.backupGenerations > 0;
}

/**
 * Copies the local entry (a file or symlink holding `loser`) to `conflictDir` unless backups will
 * keep it. Returns where it went, or undefined. Throws CsyncError('CSYNC_IO'): then do not overwrite.
 */
export async function preserveLoser(ctx: SyncContext, t: Target, loser: FileState): Promise<string | undefined> {
  if (backupsConfigured(t) || (loser.meta.kind !== 'file' && loser.meta.kind !== 'symlink')) return undefined;
  const abs = t.rel === '' ? t.absRoot : `${t.absRoot}/${t.rel}`;
  const st = ctx.fs.lstat(abs);
  if (st === undefined || st.kind === 'dir') return undefined;
  const name = `${loser.path.replace(/[^A-Za-z0-9._-]+/g, '_')}.${loser.origin}.${loser.changedAtMs}`;
  const dest = `${ctx.conflictDir}/${name}`;
  await ensureDir(ctx, ctx.conflictDir);
  if (st.kind === 'symlink') await ctx.fs.symlink(ctx.fs.readlink(abs), dest, {});
  else await ctx.fs.copyFile(abs, dest);
  return dest;
}

async function ensureDir(ctx: SyncContext, dir: string): Promise<void> {
  const parts = dir.split('/').filter((p) => p !== '');
  let cur = '';
  for (const p of parts) {
    cur += `/${p}`;
    if (ctx.fs.lstat(cur) === undefined) await ctx.fs.mkdir(cur, { mode: 0o700 });
  }
}
