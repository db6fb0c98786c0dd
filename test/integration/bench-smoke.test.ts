// A smoke run of the benchmark harness on tiny data (issue 5): it starts, measures csync, checks the
// trees after every run, writes its table and cleans up. csync2 and rsync are left out (no apt-get).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUN = join(dirname(fileURLToPath(import.meta.url)), '../../native-bench/run.js');

describe('native-bench harness (smoke)', () => {
  it('measures W1 and W3 for csync on a tiny data set and writes the table', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'csync-bench-smoke-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'RESULTS.md');
    const benchDirs = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('csync-bench-') && !n.startsWith('csync-bench-smoke-'));
    const before = new Set(benchDirs());
    const r = spawnSync(process.execPath, [RUN, '--quick', '--only', 'W1,W3', '--runs', '1', '--no-csync2', '--no-rsync', '--out', out], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const table = readFileSync(out, 'utf8');
    // A time, in ms or (on a loaded machine) s: the harness formats by size.
    assert.match(table, /\| W1 first sync, 1 peer \| csync \| \d+(\.\d+)? m?s \|/);
    assert.match(table, /\| W3 -x f, 1 peer \| csync \|/);
    assert.doesNotMatch(table, /\| (csync2|rsync) \|/);
    assert.deepEqual(benchDirs().filter((n) => !before.has(n)), [], 'the harness removed its temp dir');
  });
});
