// Fault measurement (issue 11): kill -9 of the receiving or the sending daemon at random points of a
// large transfer, then restart it. Counts runs in which a daemon died that was not killed, and the
// time from the restart to convergence (the file complete on the receiver, no temp file, nothing
// dirty). Not part of `npm test` (minutes).
//   node build/native-bench/kill-restart.js [--mib 300] [--runs 10] [--seed 1]
// Both daemons run as `csync daemon` child processes on 127.0.0.1 with watch = true and the systemd
// unit's NODE_OPTIONS; a new file is renamed into a's root to start each transfer.
import { createWriteStream, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { FaultCluster, tempFiles, until } from '../test/helpers/fault-cluster.ts';
import { DAEMON_V8_FLAG } from './lib/csync.ts';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '300' }, runs: { type: 'string', default: '10' }, seed: { type: 'string', default: '1' } } });
const SIZE = Number(values.mib) * 1024 * 1024;
const RUNS = Number(values.runs);
let seed = Number(values.seed);
/** A small deterministic PRNG (mulberry32), so a run can be repeated with --seed. */
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path);
  for (let left = bytes; left > 0; left -= 4 * 1024 * 1024) {
    if (!out.write(randomBytes(Math.min(left, 4 * 1024 * 1024)))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** Size of b's temp file for the transfer in progress (0 when none). */
function tempBytes(root: string): number {
  let max = 0;
  for (const t of tempFiles(root)) {
    try {
      max = Math.max(max, statSync(join(root, t)).size);
    } catch {
      // Renamed or removed between the listing and the stat.
    }
  }
  return max;
}

interface Run {
  readonly run: number;
  readonly killed: 'sender' | 'receiver';
  readonly atPercent: number;
  readonly survivorAlive: boolean;
  readonly convergedMs: number;
  readonly bothAliveAfter: boolean;
}

async function main(): Promise<void> {
  const c = await FaultCluster.create({ nodes: ['a', 'b'], watch: true, nodeOptions: DAEMON_V8_FLAG });
  const staging = join(c.dir, 'staging');
  mkdirSync(staging);
  const results: Run[] = [];
  try {
    await c.spawn('a');
    await c.spawn('b');
    for (let i = 0; i < RUNS * 2; i++) {
      const killed = i % 2 === 0 ? 'receiver' : 'sender';
      const victim = killed === 'receiver' ? 'b' : 'a';
      const survivor = victim === 'a' ? 'b' : 'a';
      const name = `big-${i}.bin`;
      await writeRandomFile(join(staging, name), SIZE);
      const atPercent = Math.round(5 + random() * 90);
      const target = (SIZE * atPercent) / 100;
      const reached = until(c.root('b'), () => tempBytes(c.root('b')) >= target, 120_000);
      renameSync(join(staging, name), join(c.root('a'), name));
      await reached;
      await c.kill(victim);
      // The survivor must not die of the broken link; if it did (the bug of issue 11), it is
      // counted and restarted too, so the run still measures convergence.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const survivorAlive = c.alive(survivor);
      const t0 = Date.now();
      await c.spawn(victim);
      if (!survivorAlive) await c.spawn(survivor);
      await until(c.root('b'), () => {
        try {
          return statSync(join(c.root('b'), name)).size === SIZE && tempFiles(c.root('b')).length === 0;
        } catch {
          return false;
        }
      }, 300_000);
      const convergedMs = Date.now() - t0;
      const dirty = await c.launch('a', '-M');
      const run: Run = { run: i + 1, killed, atPercent, survivorAlive, convergedMs, bothAliveAfter: c.alive('a') && c.alive('b') && dirty.status === 2 };
      results.push(run);
      console.log(JSON.stringify(run));
    }
  } finally {
    await c.close();
  }
  const died = results.filter((r) => !r.survivorAlive || !r.bothAliveAfter).length;
  for (const side of ['receiver', 'sender'] as const) {
    const ms = results.filter((r) => r.killed === side).map((r) => r.convergedMs).sort((x, y) => x - y);
    console.log(`killed ${side}: ${ms.length} runs, converge after restart min ${ms[0]} ms, median ${ms[Math.floor(ms.length / 2)]} ms, max ${ms[ms.length - 1]} ms`);
  }
  console.log(`runs where a daemon died that was not killed (or did not converge cleanly): ${died} of ${results.length} (${values.mib} MiB)`);
}

await main();
