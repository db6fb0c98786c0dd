// A smoke run of the benchmark harness on tiny data (issue 5): it starts, measures csync on W1 and W3,
// checks the trees after every run, writes its table and cleans up. csync2 and rsync are left out,
// and a stand-in apt-get first on PATH proves the harness never tries to install anything.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUN = join(dirname(fileURLToPath(import.meta.url)), '../../native-bench/run.js');
const SMOKE_FLAGS = ['--quick', '--only', 'W1,W3', '--runs', '1', '--no-csync2', '--no-rsync'] as const;
const BUDGET_MS = 30_000;

interface Exit {
  readonly status: number | null;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs the harness to completion (killed at the budget) and resolves with its status and stderr. */
function runHarness(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Exit> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [RUN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGTERM'), BUDGET_MS);
  return new Promise((resolve) => {
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr, ms: performance.now() - t0 });
    });
  });
}

const benchDirs = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('csync-bench-') && !n.startsWith('csync-bench-smoke-'));

describe('native-bench harness (smoke)', () => {
  it('measures csync on W1 and W3 with tiny data, finds identical trees, and cleans up within 30 s', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'csync-bench-smoke-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const shims = join(dir, 'bin');
    const aptMarker = join(dir, 'apt-get-called');
    mkdirSync(shims);
    writeFileSync(join(shims, 'apt-get'), `#!/bin/sh\necho "$@" >> '${aptMarker}'\nexit 1\n`);
    chmodSync(join(shims, 'apt-get'), 0o755);
    const before = new Set(benchDirs());
    const out = join(dir, 'RESULTS.md');
    const benchDirs = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('csync-bench-') && !n.startsWith('csync-bench-smoke-'));
    const before = new Set(benchDirs());

    const r = await runHarness([...SMOKE_FLAGS, '--out', out], { ...process.env, PATH: `${shims}:${process.env.PATH ?? ''}` });

    assert.equal(r.status, 0, r.stderr.slice(-3000));
    assert.ok(r.ms < BUDGET_MS, `took ${r.ms.toFixed(0)} ms`);
    const table = readFileSync(out, 'utf8');
    assert.match(table, /\| W1 first sync[^|]*\| csync \| 1 \| \d+(\.\d+)? (ms|s) \|/);
    assert.match(table, /\| W3 -m f && -u, 1 peer \| csync \| 1 \|/);
    assert.match(table, /\| W3 -x f, 1 peer \| csync \| 1 \|/);
    const csyncRows = table.split('\n').filter((l) => /^\| W[13] [^|]*\| csync \| \d/.test(l) && !l.includes('daemon peak RSS'));
    assert.equal(csyncRows.length, 3, table);
    for (const row of csyncRows) assert.match(row, /\| yes \(1\/1\) \|/, `trees identical in: ${row}`);
    assert.doesNotMatch(table, /\| (csync2|rsync) \|/);
    assert.doesNotMatch(table, /Failed workloads/);
    assert.equal(existsSync(aptMarker), false, 'the harness called apt-get');
    assert.deepEqual(benchDirs().filter((n) => !before.has(n)), [], 'the harness removed its temp dir');
  });
});
