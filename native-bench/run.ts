// `npm run bench`: csync side by side with rsync (daemon mode) and, when available, csync2, on the
// The W1-W6 workloads of native-bench/README.md, alternating tools run by run, checking the trees after every run, and writing
// native-bench/RESULTS.md. Flags: --quick (tiny data, 1 run), --runs N, --only W1,W3, --out PATH,
// --no-rsync, --no-csync2. Everything it starts it stops; its temp dir is removed at the end.
import { execSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CsyncCluster } from './lib/csync.ts';
import { RsyncTarget } from './lib/rsync.ts';
import { Csync2Cluster, csync2Available, debianTool } from './lib/csync2.ts';
import { makeTree, put, seededBytes, setTrash, stats, treeDigest } from './lib/util.ts';
import type { Sample } from './lib/util.ts';

interface Flags {
  quick: boolean;
  runs: number | undefined;
  only: Set<string> | undefined;
  out: string;
  rsync: boolean;
  csync2: boolean;
}

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '../..');

function parseFlags(argv: readonly string[]): Flags {
  const f: Flags = { quick: false, runs: undefined, only: undefined, out: join(REPO, 'native-bench/RESULTS.md'), rsync: true, csync2: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') f.quick = true;
    else if (a === '--runs') f.runs = Number(argv[++i]);
    else if (a === '--only') f.only = new Set((argv[++i] ?? '').split(','));
    else if (a === '--out') f.out = argv[++i] ?? f.out;
    else if (a === '--no-rsync') f.rsync = false;
    else if (a === '--no-csync2') f.csync2 = false;
    else throw new Error(`unknown flag ${String(a)}`);
  }
  return f;
}

/** One table row: a workload measured for one tool. */
interface Row {
  workload: string;
  tool: 'csync' | 'csync2' | 'rsync' | 'rsync --fsync';
  samples: Sample[];
  bar: string;
  note?: string;
}

const rows: Row[] = [];
function record(workload: string, tool: Row['tool'], sample: Sample, bar = ''): void {
  let row = rows.find((r) => r.workload === workload && r.tool === tool);
  if (!row) {
    row = { workload, tool, samples: [], bar };
    rows.push(row);
  }
  row.samples.push(sample);
}

function assertSame(a: string, b: string, what: string): void {
  if (treeDigest(a) !== treeDigest(b)) throw new Error(`trees differ after ${what}: ${a} vs ${b}`);
}

interface Ctx {
  readonly flags: Flags;
  readonly dir: string;
  readonly src: string;
  readonly files: number;
  readonly bigBytes: number;
  readonly csync: CsyncCluster;
  readonly rsync: RsyncTarget | undefined;
  readonly csync2: Csync2Cluster | undefined;
}

const want = (f: Flags, w: string): boolean => f.only === undefined || f.only.has(w);

async function w1w2(c: Ctx, runs: number): Promise<void> {
  for (let i = 0; i < runs; i++) {
    if (c.csync2) {
      await c.csync2.wipe(c.src);
      const s = await c.csync2.run(['-x']);
      record('W1 first sync, 1 peer', 'csync2', { ...s, wireBytes: 0 });
      assertSame(c.csync2.root(0), c.csync2.root(1), 'csync2 W1');
      if (want(c.flags, 'W2')) {
        record('W2 check, nothing changed (-cr)', 'csync2', { ...(await c.csync2.run(['-cr', c.csync2.root(0)])), wireBytes: 0 });
        record('W2 compare with the peer, nothing changed (-T)', 'csync2', { ...(await c.csync2.run(['-T'])), wireBytes: 0 });
      }
    }
    await c.csync.wipe();
    cpSync(c.src, c.csync.root('n0'), { recursive: true, preserveTimestamps: true });
    const copiedAtMs = Date.now();
    await c.csync.startDaemons({ nodes: ['n1'] });
    c.csync.resetWire();
    const s = await c.csync.cli(['-x', '-q', '-P', 'n1']);
    record('W1 first sync, 1 peer', 'csync', { ...s, wireBytes: c.csync.wire() }, '≤ 3 s');
    assertSame(c.csync.root('n0'), c.csync.root('n1'), 'csync W1');
    if (want(c.flags, 'W2')) {
      // The copy above gave every file a fresh ctime, so W1's check recorded them inside the racy
      // window and the next check re-reads them all once (scanner/scan.ts localSig). A deployed
      // tree's "nothing changed" check meets files changed long before its last check: wait out
      // the window and run one untimed check first (its cost is reported in native-bench/README.md).
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, copiedAtMs + 2_100 - Date.now())));
      await c.csync.cli(['-cr', '-q']);
      record('W2 check, nothing changed (-cr)', 'csync', { ...(await c.csync.cli(['-cr', '-q'])), wireBytes: 0 }, '≤ 0.25 s');
      record('W2 check + update, nothing changed (-x)', 'csync', { ...(await c.csync.cli(['-x', '-q', '-P', 'n1'])), wireBytes: 0 }, '≤ 0.25 s');
      // -T compares content: both sides check their tree (recording nothing) and compare digests.
      c.csync.resetWire();
      record('W2 compare with the peer, nothing changed (-T)', 'csync', { ...(await c.csync.cli(['-T', '-P', 'n1'])), wireBytes: c.csync.wire() }, "≤ csync2's -T");
      // The first -T after W1 reads every file the receiver wrote (applied inside the racy window,
      // so recorded without a local signature) and records their signatures; an hourly -T is this one.
      c.csync.resetWire();
      record('W2 compare with the peer, nothing changed (-T), again', 'csync', { ...(await c.csync.cli(['-T', '-P', 'n1'])), wireBytes: c.csync.wire() }, "≤ csync2's -T");
      // As deployed (csync.service + csync-check.timer): n0's daemon runs and the check is handed to
      // it. An untimed command first waits out the daemon's own start-up check.
      await c.csync.ensureDaemons(['n0']);
      await c.csync.cli(['-c', '-q', join(c.csync.root('n0'), 'd000')]);
      record('W2 check, nothing changed (-cr), n0\'s daemon running', 'csync', { ...(await c.csync.cli(['-cr', '-q'])), wireBytes: 0 }, '≤ 0.25 s');
      record('W2 check + update, nothing changed (-x), n0\'s daemon running', 'csync', { ...(await c.csync.cli(['-x', '-q', '-P', 'n1'])), wireBytes: 0 }, '≤ 0.25 s');
      await c.csync.stopDaemonsOf(['n0']);
    }
    if (c.rsync) {
      c.rsync.wipe();
      c.rsync.resetWire();
      record('W1 first sync, 1 peer', 'rsync', { ...(await c.rsync.push(c.src)), wireBytes: c.rsync.wire });
      assertSame(c.src, c.rsync.dest, 'rsync W1');
      // The durable reference: the receiving rsync fsyncs every file it writes (rsync ≥ 3.2.3).
      c.rsync.wipe();
      c.rsync.resetWire();
      record('W1 first sync, 1 peer', 'rsync --fsync', { ...(await c.rsync.push(c.src, ['--fsync'])), wireBytes: c.rsync.wire });
      assertSame(c.src, c.rsync.dest, 'rsync --fsync W1');
      if (want(c.flags, 'W2')) record('W2 check, nothing changed (-cr)', 'rsync', { ...(await c.rsync.push(c.src, ['--dry-run'])), wireBytes: 0 });
    }
  }
  record('daemon RSS after receiving W1 (20,000 files)', 'csync', { ms: Number.NaN, rssKb: c.csync.daemonPeakRssKb('n1'), wireBytes: 0 }, '');
}

/** Touches one file so every tool sees a change (mtime moves on by more than a second for csync2). */
function touchOne(root: string, i: number): string {
  const rel = 'd000/f00000.dat';
  put(join(root, rel), `changed ${i} ${Date.now()}\n`);
  const t = Date.now() / 1000 + 2 * i + 2;
  utimesSync(join(root, rel), t, t);
  return rel;
}

async function w3(c: Ctx, runs: number): Promise<void> {
  // The hook case: n0 runs a daemon (watcher off) and the CLI hands `-m`, `-u`, `-x` to it over its
  // control socket. The same commands with CSYNC_NO_DAEMON=1 are the CLI doing all the work alone.
  await c.csync.ensureDaemons(['n1', 'n0']);
  await c.csync.cli(['-u', '-q', '-P', 'n1'], [2]);
  const alone = { CSYNC_NO_DAEMON: '1' };
  for (let i = 0; i < runs; i++) {
    for (const [suffix, env, bars] of [['', {}, ['≤ 130 ms', '≤ 80 ms']], [' (CLI alone, no daemon)', alone, ['', '']]] as const) {
      const rel = touchOne(c.csync.root('n0'), i);
      const abs = join(c.csync.root('n0'), rel);
      c.csync.resetWire();
      const m = await c.csync.cli(['-m', abs, '-q'], [], env);
      const u = await c.csync.cli(['-u', '-q', '-P', 'n1'], [], env);
      record(`W3 -m f && -u, 1 peer${suffix}`, 'csync', { ms: m.ms + u.ms, rssKb: Math.max(m.rssKb, u.rssKb), wireBytes: c.csync.wire() }, bars[0]);
      const rel2 = touchOne(c.csync.root('n0'), i + 100);
      c.csync.resetWire();
      const x = await c.csync.cli(['-x', join(c.csync.root('n0'), rel2), '-q', '-P', 'n1'], [], env);
      record(`W3 -x f, 1 peer${suffix}`, 'csync', { ...x, wireBytes: c.csync.wire() }, bars[1]);
      assertSame(c.csync.root('n0'), c.csync.root('n1'), 'csync W3');
    }
    if (c.csync2) {
      const r2 = touchOne(c.csync2.root(0), i);
      const cm = await c.csync2.run(['-m', join(c.csync2.root(0), r2)]);
      const cu = await c.csync2.run(['-u']);
      record('W3 -m f && -u, 1 peer', 'csync2', { ms: cm.ms + cu.ms, rssKb: Math.max(cm.rssKb, cu.rssKb), wireBytes: 0 });
    }
    if (c.rsync) {
      const r = touchOne(c.src, i);
      c.rsync.resetWire();
      record('W3 -m f && -u, 1 peer', 'rsync', { ...(await c.rsync.push(c.src)), wireBytes: c.rsync.wire });
      void r;
    }
  }
  await c.csync.stopDaemonsOf(['n0']);
}

async function w4(c: Ctx, runs: number): Promise<void> {
  const big = seededBytes(c.bigBytes, 4242);
  for (let i = 0; i < runs; i++) {
    await c.csync.wipe();
    writeFileSync(join(c.csync.root('n0'), 'big.bin'), big);
    await c.csync.startDaemons({ nodes: ['n1'] });
    c.csync.resetWire();
    record('W4 first sync of the big file', 'csync', { ...(await c.csync.cli(['-x', '-q', '-P', 'n1'])), wireBytes: c.csync.wire() }, '≤ 2.3 s, RSS ≤ 150 MB');
    const mid = Math.floor(c.bigBytes / 2);
    const fd = readFileSync(join(c.csync.root('n0'), 'big.bin'));
    seededBytes(Math.min(1 << 20, c.bigBytes / 8), 77 + i).copy(fd, mid);
    writeFileSync(join(c.csync.root('n0'), 'big.bin'), fd);
    c.csync.resetWire();
    record('W4 1 MiB changed in the middle', 'csync', { ...(await c.csync.cli(['-x', '-q', '-P', 'n1'])), wireBytes: c.csync.wire() }, '≤ 2.5 s, ≤ 1.5 MB on the wire');
    record('W4 receiver peak RSS', 'csync', { ms: Number.NaN, rssKb: c.csync.daemonPeakRssKb('n1'), wireBytes: 0 }, '≤ 150 MB');
    assertSame(c.csync.root('n0'), c.csync.root('n1'), 'csync W4');
    if (c.rsync) {
      c.rsync.wipe();
      const src = join(c.dir, 'w4src');
      rmSync(src, { recursive: true, force: true });
      put(join(src, 'big.bin'), big);
      c.rsync.resetWire();
      record('W4 first sync of the big file', 'rsync', { ...(await c.rsync.push(src)), wireBytes: c.rsync.wire });
      writeFileSync(join(src, 'big.bin'), fd);
      c.rsync.resetWire();
      record('W4 1 MiB changed in the middle', 'rsync', { ...(await c.rsync.push(src)), wireBytes: c.rsync.wire });
      c.rsync.wipe();
      put(join(src, 'big.bin'), big);
      c.rsync.resetWire();
      record('W4 first sync of the big file', 'rsync --fsync', { ...(await c.rsync.push(src, ['--fsync'])), wireBytes: c.rsync.wire });
      writeFileSync(join(src, 'big.bin'), fd);
      c.rsync.resetWire();
      record('W4 1 MiB changed in the middle', 'rsync --fsync', { ...(await c.rsync.push(src, ['--fsync'])), wireBytes: c.rsync.wire });
    }
  }
}

async function w5(c: Ctx, runs: number): Promise<void> {
  await c.csync.wipe();
  put(join(c.csync.root('n0'), 'small.txt'), 'start\n');
  await c.csync.startDaemons();
  await c.csync.cli(['-x', '-q']);
  for (let i = 0; i < runs; i++) {
    for (const peers of [['n1'], ['n1', 'n2'], ['n1', 'n2', 'n3', 'n4']]) {
      const p = join(c.csync.root('n0'), 'small.txt');
      put(p, `change ${i} to ${peers.length}\n`);
      const s = await c.csync.cli(['-x', p, '-P', peers.join(','), '-q']);
      record(`W5 one change to ${peers.length} peer(s)`, 'csync', { ...s, wireBytes: 0 }, peers.length === 4 ? '≤ 1.3 × 1 peer' : '');
    }
  }
}

/**
 * Peak RSS of a daemon that tracks `files` entries: n0's tree is filled with that many small files,
 * its daemon records them all in its start-up check and pushes them to its peers (n1 running and
 * receiving everything, n2–n4 down), and a `csync -c` handed to it returns once that pass is done
 * (handed-over commands wait for the daemon's running work).
 */
async function daemonRss(c: Ctx, files: number): Promise<void> {
  await c.csync.wipe();
  const root = c.csync.root('n0');
  for (let i = 0; i < files; i++) {
    const dir = join(root, `r${String(i % 500).padStart(3, '0')}`);
    if (i < 500) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${i}`), `${i}\n`);
  }
  await c.csync.startDaemons({ nodes: ['n1'] });
  await c.csync.startDaemons({ nodes: ['n0'] });
  await c.csync.cli(['-c', '-q', join(root, 'r000')]);
  assertSame(root, c.csync.root('n1'), `the ${files}-file push`);
  const what = `${files.toLocaleString('en')} tracked files`;
  record(`daemon peak RSS with ${what} (start-up check, first push to n1 and to 3 peers that are down)`, 'csync', { ms: Number.NaN, rssKb: c.csync.daemonPeakRssKb('n0'), wireBytes: 0 }, '≤ 200 MB');
  record(`receiving daemon peak RSS, ${what}`, 'csync', { ms: Number.NaN, rssKb: c.csync.daemonPeakRssKb('n1'), wireBytes: 0 }, '≤ 200 MB');
  // Then idle: what it holds while watching and serving (a few cycles later, after GC had its chance).
  await c.csync.cli(['-c', '-q', join(root, 'r001')]);
  record(`daemon RSS with ${what}, idle after start-up`, 'csync', { ms: Number.NaN, rssKb: c.csync.daemonRssKb('n0'), wireBytes: 0 }, '≤ 200 MB');
  await c.csync.stopDaemons();
}

async function w6(c: Ctx, writes: number): Promise<void> {
  await c.csync.wipe();
  await c.csync.startDaemons({ watch: true, nodes: c.csync.nodes });
  const a = join(c.csync.root('n0'), 'live.txt');
  const b = join(c.csync.root('n1'), 'live.txt');
  for (let i = 0; i < writes; i++) {
    const text = `live ${i} ${Date.now()}\n`;
    const t0 = performance.now();
    writeFileSync(a, text);
    for (;;) {
      let got = '';
      try {
        got = readFileSync(b, 'utf8');
      } catch {
        // Not there yet.
      }
      if (got === text) break;
      if (performance.now() - t0 > 10_000) throw new Error(`W6: write ${i} did not arrive within 10 s (B has ${JSON.stringify(got)})`);
      await new Promise((r) => setTimeout(r, 1));
    }
    record('W6 daemon: write on A → content on B', 'csync', { ms: performance.now() - t0, rssKb: 0, wireBytes: 0 }, '≤ 60 ms (p50)');
    await new Promise((r) => setTimeout(r, 30));
  }
  await c.csync.stopDaemons();
}

function fmtMs(ms: number): string {
  return Number.isNaN(ms) ? '—' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

function report(f: Flags, meta: string): string {
  const lines = [
    '# native-bench results', '', meta, '',
    '| workload | tool | median | min–max | peak RSS | bytes on wire | vs csync2 | vs rsync | vs rsync --fsync | bar |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const st = stats(r.samples.map((s) => s.ms));
    const rss = Math.max(...r.samples.map((s) => s.rssKb));
    const wire = stats(r.samples.map((s) => s.wireBytes)).median;
    const other = (tool: string): string => {
      const o = rows.find((x) => x.workload === r.workload && x.tool === tool);
      if (!o || r.tool !== 'csync') return '';
      return `${(st.median / stats(o.samples.map((s) => s.ms)).median).toFixed(2)}×`;
    };
    lines.push(`| ${r.workload} | ${r.tool} | ${fmtMs(st.median)} | ${fmtMs(st.min)}–${fmtMs(st.max)} | ${rss ? `${(rss / 1024).toFixed(0)} MB` : '—'} | ${wire ? `${(wire / 1048576).toFixed(2)} MiB` : '—'} | ${other('csync2')} | ${other('rsync')} | ${other('rsync --fsync')} | ${r.bar} |`);
  }
  lines.push('', `Runs per workload: ${f.quick ? 'quick smoke' : 'see samples'}; \`rsync\` runs without fsync, \`rsync --fsync\` fsyncs every file it writes (not directories); csync fsyncs every file and directory.`);
  return `${lines.join('\n')}\n`;
}

let failed: string[] = [];

/** A base port B such that B…B+n-1 and B+100…B+100+n-1 are free on 127.0.0.1 right now. */
async function freeBase(n: number): Promise<number> {
  const { createServer } = await import('node:net');
  const free = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const ports = Array.from({ length: n }, (_, i) => [base + i, base + 100 + i]).flat();
    if ((await Promise.all(ports.map(free))).every(Boolean)) return base;
  }
  throw new Error('no free ports for the bench cluster');
}

async function main(): Promise<void> {
  const f = parseFlags(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'csync-bench-'));
  setTrash(join(dir, 'trash'));
  const files = f.quick ? 200 : 20_000;
  const bigBytes = f.quick ? 8 << 20 : 1 << 30;
  const runs = f.runs ?? (f.quick ? 1 : 5);
  const csync = new CsyncCluster(join(dir, 'csync'), ['n0', 'n1', 'n2', 'n3', 'n4'], await freeBase(5));
  const rsync = f.rsync && debianTool('rsync') ? new RsyncTarget(join(dir, 'rsync'), await freeBase(1)) : undefined;
  const csync2 = f.csync2 && csync2Available() ? new Csync2Cluster(join(dir, 'csync2')) : undefined;
  try {
    const src = join(dir, 'src');
    makeTree(src, { files, dirs: f.quick ? 20 : 200, seed: 2026 });
    await csync.setup();
    await rsync?.start();
    await csync2?.setup();
    const c: Ctx = { flags: f, dir, src, files, bigBytes, csync, rsync, csync2 };
    const failures: string[] = [];
    const attempt = async (name: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        // One workload failing must not lose the others' numbers: it is reported in the table.
        failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
        await c.csync.stopDaemons();
      }
    };
    if (want(f, 'W1') || want(f, 'W2')) await attempt('W1/W2', () => w1w2(c, runs));
    if (want(f, 'W3')) await attempt('W3', () => w3(c, runs));
    if (want(f, 'W4')) await attempt('W4', () => w4(c, runs));
    if (want(f, 'W5')) await attempt('W5', () => w5(c, runs));
    if (want(f, 'W6')) await attempt('W6', () => w6(c, f.quick ? 5 : 50));
    if (want(f, 'RSS')) await attempt('RSS', () => daemonRss(c, f.quick ? 2_000 : 100_000));
    failed = failures;
    const commit = execSync('git rev-parse --short HEAD', { cwd: REPO, encoding: 'utf8' }).trim();
    const meta = `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}; commit ${commit}; ${new Date().toISOString()}; data: ${files} files, big file ${(bigBytes / 2 ** 20).toFixed(0)} MiB.${csync2 ? '' : ' csync2: not run.'}`;
    const text = report(f, meta) + (failed.length ? `\nFailed workloads:\n${failed.map((x) => `- ${x}`).join('\n')}\n` : '');
    writeFileSync(f.out, text);
    process.stdout.write(text);
    if (failed.length) process.exitCode = 1;
  } finally {
    await csync.close();
    await rsync?.stop();
    await csync2?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
