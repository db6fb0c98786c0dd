// `csync restore PATH [--generation N]`: puts a backup generation back; it then syncs as a local change.
import { CsyncError } from '../core/errors.ts';
import { backupBeforeOverwrite, listGenerations } from '../backup/rotate.ts';
import type { SyncContext } from './context.ts';
import { runCheck } from './check.ts';
import type { CheckReport } from './check.ts';
import { absPathOf } from './scope.ts';
import type { Target } from './scope.ts';

/**
 * Restores generation `generation` (0 = newest) of the target's backups over the live path: the
 * current content is itself backed up first, so a restore never loses anything. Then the path is
 * checked, which records it as a local change and marks it dirty for every peer.
 */
export async function runRestore(ctx: SyncContext, t: Target, generation: number): Promise<CheckReport> {
  const g = t.group;
  const abs = absPathOf(t);
  if (g.backupDir === undefined || g.config.backupGenerations <= 0) {
    throw new CsyncError('CSYNC_USAGE', `restore ${JSON.stringify(abs)}: group ${JSON.stringify(g.config.name)} keeps no backups`, {
      hint: 'set backup_dir and backup_generations for the group',
    });
  }
  const gens = listGenerations(ctx.fs, g.backupDir, abs);
  const chosen = gens.find((x) => x.generation === generation);
  if (chosen === undefined) {
    throw new CsyncError('CSYNC_USAGE', `restore ${JSON.stringify(abs)}: no backup generation ${generation}`, {
      hint: gens.length ? `generations available: ${gens.map((x) => x.generation).join(', ')}` : `no backups under ${g.backupDir}`,
    });
  }
  // Copy the generation aside first: backing up the current file renumbers the generations.
  const slash = abs.lastIndexOf('/');
  const temp = `${abs.slice(0, slash)}/.${abs.slice(slash + 1)}.csync-restore.tmp`;
  if (chosen.stat.kind === 'symlink') await ctx.fs.symlink(ctx.fs.readlink(chosen.path), temp, {});
  else await ctx.fs.copyFile(chosen.path, temp);
  try {
    await backupBeforeOverwrite(ctx.fs, { backupDir: g.backupDir, generations: g.config.backupGenerations, path: abs });
    await ctx.fs.rename(temp, abs);
    await ctx.fs.fsyncDir(abs.slice(0, slash) || '/');
  } catch (err) {
    await ctx.fs.unlink(temp);
    throw err;
  }
  return runCheck(ctx, [t], { recursive: false, markAll: true, force: false, allowMassDelete: false, dryRun: false });
}
