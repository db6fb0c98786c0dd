// `csync daemon` as a process: start, reload on SIGHUP, stop on SIGTERM/SIGINT.
import { Daemon } from './daemon.ts';
import type { DaemonOptions } from './daemon.ts';
import type { Runtime } from './runtime.ts';

/** Runs the daemon until SIGTERM/SIGINT; SIGHUP reloads. Resolves with the exit status. */
export async function runDaemon(rt: Runtime, opts: DaemonOptions): Promise<number> {
  const daemon = new Daemon(rt, opts);
  await daemon.start();
  rt.ctx.log.info({ port: daemon.port }, 'Daemon started');
  const onHup = (): void => {
    void daemon.reload();
  };
  process.on('SIGHUP', onHup);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  process.off('SIGHUP', onHup);
  rt.ctx.log.info({ signal }, 'Stopping');
  await daemon.stop();
  return 0;
}
