// Keeps the losing side of an auto-resolved conflict (docs/semantics.md, "Resolving conflicts"): with backups configured the
// overwrite itself makes a backup generation; without, the content is copied to the state dir's
// conflicts/ folder, named after the path, the losing origin and the time of its change.
import { CsyncError } from '../core/errors.ts';
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
  const dest = `${ctx.conflictDir}/${loserName(ctx, loser)}`;
  await ensureDir(ctx, ctx.conflictDir);
  if (st.kind === 'symlink') await ctx.fs.symlink(ctx.fs.readlink(abs), dest, {});
  else await ctx.fs.copyFile(abs, dest);
  return dest;
}

/** Longest loser name kept readable; longer ones are cut and end in a hash of the whole path. */
const MAX_READABLE_NAME = 160;

/**
 * `<path, percent-encoded>.<origin>.<changedAtMs>`: one name per path (the encoding is injective,
 * so `a/b` and `a_b` never share a name) that fits a directory entry (long paths are cut and made
 * unique with the xxh64 of the whole path).
 */
export function loserName(ctx: Pick<SyncContext, 'hasher'>, loser: FileState): string {
  let enc = encodeURIComponent(loser.path).replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  if (enc.length > MAX_READABLE_NAME) enc = `${enc.slice(0, MAX_READABLE_NAME)}~${ctx.hasher.hashBytes(new TextEncoder().encode(loser.path))}`;
  return `${enc}.${loser.origin}.${loser.changedAtMs}`;
}

/** Creates `dir` and its missing parents; refuses a symlink or file anywhere on the way. */
async function ensureDir(ctx: SyncContext, dir: string): Promise<void> {
  const parts = dir.split('/').filter((p) => p !== '');
  let cur = '';
  for (const p of parts) {
    cur += `/${p}`;
    const st = ctx.fs.lstat(cur);
    if (st === undefined) await ctx.fs.mkdir(cur, { mode: 0o700 });
    else if (st.kind !== 'dir') {
      throw new CsyncError('CSYNC_PATH_UNSAFE', `conflicts directory ${JSON.stringify(cur)}: is ${st.kind === 'symlink' ? 'a symlink' : 'not a directory'}`, {
        hint: 'csync keeps conflict losers only in a real directory; remove what is in the way',
      });
    }
  }
}
