// Runs command lines handed to a running daemon on its control socket (daemon/control.ts): -c, -m,
// -u and -x, over the daemon's runtime and open peer links, one at a time with its work cycles.
// Anything else, or any doubt (another config or node, -v, --json, --dry-run), is answered
// `fallback` and the client runs the command itself, exactly as without a daemon.
import type { ControlHandler, ControlReply } from '../daemon/control.ts';
import { sameFile } from '../daemon/control.ts';
import type { DaemonHandle } from '../daemon/daemon.ts';
import type { Command } from './args.ts';
import { parseArgs } from './args.ts';
import type { Io } from './output.ts';
import { renderError } from './output.ts';
import { commandCheck, commandCheckUpdate, commandUpdate, commandWait, userPath } from './sync-commands.ts';

const HANDED_OVER = new Set(['check', 'mark', 'update', 'check-update', 'wait']);

/** The daemon's control handler for node `identity.nodeName` of config `identity.configPath`. */
export function handoffHandler(d: DaemonHandle, identity: { configPath: string; nodeName: string }): ControlHandler {
  return async (req): Promise<ControlReply> => {
    if (req.node !== identity.nodeName || !sameFile(req.config, identity.configPath)) return { fallback: true };
    let cmd: Command;
    try {
      cmd = parseArgs(req.argv);
    } catch {
      // A usage error: the client prints it with its own wording and exit status.
      return { fallback: true };
    }
    const o = cmd.options;
    if (!HANDED_OVER.has(cmd.action) || o.verbose || o.json || o.dryRun || o.stateDir !== undefined) return { fallback: true };
    const here: Command = { ...cmd, args: cmd.args.map((p) => userPath(d.rt, p, req.cwd)) };
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), isTty: false, logs: false };
    const t0 = d.rt.ctx.clock.nowMs();
    let status = here.action === 'wait' ? 0 : await d.exclusive(async () => {
      try {
        if (here.action === 'update') return await commandUpdate(d.rt, here, io, d);
        if (here.action === 'check-update') return await commandCheckUpdate(d.rt, here, io, d);
        return await commandCheck(d.rt, here, io);
      } catch (e) {
        return renderError(io, e, false);
      }
    });
    // Waiting runs one pass at a time in the daemon's loop, never holding it for the whole wait.
    if (here.action === 'wait' || (here.options.wait && (status === 0 || status === 1))) {
      try {
        status = await commandWait(d.rt, { ...here, action: 'wait' }, io, { ...d, exclusive: (fn) => d.exclusive(fn) });
      } catch (e) {
        status = renderError(io, e, false);
      }
    }
    d.rt.ctx.log.info({ argv: req.argv, status, ms: d.rt.ctx.clock.nowMs() - t0 }, 'Ran a command for a local client');
    return { status, out: out.join(''), err: err.join('') };
  };
}
