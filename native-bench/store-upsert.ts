// Micro-benchmark: SqliteStateStore.put throughput, batched in one transaction (the scanner's
// pattern) and one commit per put (the worst case with synchronous=FULL), plus list(). Prints the
// best and median of REPEATS runs, since shared machines are noisy. Not part of npm test.
// Run: npx tsc -p tsconfig.json && node build/native-bench/store-upsert.js [rows]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileState, LogicalPath } from '../src/core/types.ts';
import { SqliteStateStore } from '../src/store/sqlite-store.ts';

const ROWS = Number(process.argv[2] ?? 20_000);
const SINGLE_COMMITS = 200;
const REPEATS = 7;

/** A plausible file state for row `i` (64-bit mtime, two-node version). */
function stateFor(i: number, round: number): FileState {
  return {
    path: `/srv/www/d${i % 100}/f${i}.html` as LogicalPath,
    meta: { kind: 'file', sizeBytes: 4096 + i, mtimeNs: 1_700_000_000_000_000_000n + BigInt(i), mode: 0o644, uid: 33, gid: 33, hash: 'deadbeefcafef00d' },
    version: { web1: round, web2: 1 },
    origin: 'web1',
    changedAtMs: 1_700_000_000_000 + i,
  };
}

/** Times `run` (after `setup`, untimed) REPEATS times and prints best/median ops/s. */
function measure(label: string, ops: number, run: (store: SqliteStateStore) => void, open: () => SqliteStateStore, setup?: (s: SqliteStateStore) => void): void {
  const times: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const store = open();
    setup?.(store);
    const t0 = process.hrtime.bigint();
    run(store);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    store.close();
  }
  times.sort((a, b) => a - b);
  const best = times[0] ?? NaN;
  const median = times[Math.floor(times.length / 2)] ?? NaN;
  const opsPerS = (ms: number): string => Math.round((ops / ms) * 1000).toLocaleString('en-US');
  console.log(`${label.padEnd(40)} ${String(ops).padStart(6)} ops  best ${best.toFixed(1).padStart(7)} ms (${opsPerS(best)} ops/s)  median ${median.toFixed(1).padStart(7)} ms (${opsPerS(median)} ops/s)`);
}

const putAll = (round: number) => (store: SqliteStateStore): void =>
  store.transaction(() => {
    for (let i = 0; i < ROWS; i++) store.put(stateFor(i, round));
  });

function benchBackend(name: string, open: () => SqliteStateStore): void {
  measure(`${name}: insert, one transaction`, ROWS, putAll(1), open);
  measure(`${name}: update, one transaction`, ROWS, putAll(2), open, putAll(1));
  measure(`${name}: list() all rows`, ROWS, (s) => void s.list(), open, putAll(1));
  measure(`${name}: one commit per put`, SINGLE_COMMITS, (s) => {
    for (let i = 0; i < SINGLE_COMMITS; i++) s.put(stateFor(i, 3));
  }, open);
}

const dir = mkdtempSync(join(tmpdir(), 'csync-bench-'));
let n = 0;
try {
  benchBackend(':memory:', () => SqliteStateStore.open(':memory:'));
  benchBackend(`file in ${tmpdir()}`, () => SqliteStateStore.open(join(dir, `state-${++n}.db`)));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
