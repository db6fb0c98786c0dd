// `csync demo`: placeholder replaced below.
import type { Command } from './args.ts';
import type { Io } from './output.ts';

/** Runs the demo. */
export async function runDemo(_cmd: Command, io: Io): Promise<number> {
  io.out('demo\n');
  return Promise.resolve(0);
}
