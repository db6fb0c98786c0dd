// `csync daemon`: serve peers until SIGTERM/SIGINT, then finish in-flight work and exit.
import type { Runtime } from './runtime.ts';
import { loadTlsMaterial, startServer } from './server.ts';

/** Runs the daemon until a stop signal; resolves with the exit status. */
export async function runDaemon(rt: Runtime): Promise<number> {
  const server = await startServer(rt, loadTlsMaterial(rt));
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  rt.ctx.log.info({ signal }, 'Stopping');
  await server.close();
  return 0;
}
