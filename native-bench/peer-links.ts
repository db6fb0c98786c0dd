// Memory per peer link (issue 16): an origin daemon with P peers on 127.0.0.1, every node a
// `csync daemon` process with the systemd unit's V8 flag. Measures the origin's RSS once its links
// to every peer are up and idle, then its peak RSS while it pushes F files of S bytes to all of
// them (`csync -x` handed to the daemon), and the same with one peer, so the cost per link is
//   (idle RSS with P peers − idle RSS with 1 peer) / (P − 1).
// Not part of `npm test` (it starts P + 1 daemons).
//   node build/native-bench/peer-links.js [--peers 15] [--files 2000] [--bytes 2048] [--out FILE]
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CsyncCluster, CSYNC_BIN } from './lib/csync.ts';
import { discard, put, seededBytes, timed } from './lib/util.ts';

const { values } = parseArgs({ options: { peers: { type: 'string', default: '15' }, files: { type: 'string', default: '2000' }, bytes: { type: 'string', default: '2048' }, out: { type: 'string' } } });
const PEERS = Number(values.peers);
const FILES = Number(values.files);
const BYTES = Number(values.bytes);

interface Run {
  peers: number;
  idleRssMb: number;
  peakRssMb: number;
  pushMs: number;
}

/** Resolves once node n0's daemon reports every peer connected (daemon.json), or throws after 60 s. */
async function linksUp(c: CsyncCluster, peers: number): Promise<void> {
  const file = join(c.dir, 'n0', 'state', 'daemon.json');
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const st = JSON.parse(readFileSync(file, 'utf8')) as { peers: Record<string, { connected: boolean }> };
      if (Object.values(st.peers).filter((p) => p.connected).length >= peers) return;
    } catch {
      // Not written yet.
    }
    if (Date.now() > deadline) throw new Error(`n0 did not connect to ${peers} peers within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function measure(peers: number): Promise<Run> {
  const nodes = Array.from({ length: peers + 1 }, (_, i) => `n${i}`);
  const dir = mkdtempSync(join(tmpdir(), 'csync-peer-links-'));
  const c = new CsyncCluster(dir, nodes, 42000 + Math.floor(Math.random() * 1000) * 20);
  try {
    await c.setup();
    await c.startDaemons({ nodes });
    await linksUp(c, peers);
    const idleRssMb = c.daemonRssKb('n0') / 1024;
    for (let i = 0; i < FILES; i++) put(join(c.root('n0'), `d${String(i % 20).padStart(2, '0')}`, `f${i}`), seededBytes(BYTES, i + 1));
    // Handed to n0's daemon (its control socket): the push runs over the daemon's own links.
    const r = await timed(process.execPath, [CSYNC_BIN, '-C', join(dir, 'send.toml'), '-N', 'n0', '-x', '-q']);
    return { peers, idleRssMb, peakRssMb: c.daemonPeakRssKb('n0') / 1024, pushMs: r.ms };
  } finally {
    await c.close();
    discard(dir);
  }
}

const one = await measure(1);
const many = await measure(PEERS);
const perLinkMb = (many.idleRssMb - one.idleRssMb) / Math.max(1, PEERS - 1);
const lines = [
  `| peers | origin RSS, links idle | origin peak RSS, pushing ${FILES} × ${BYTES} B | push (\`-x\` via the daemon) |`,
  '|---|---|---|---|',
  ...[one, many].map((r) => `| ${r.peers} | ${r.idleRssMb.toFixed(1)} MB | ${r.peakRssMb.toFixed(1)} MB | ${(r.pushMs / 1000).toFixed(2)} s |`),
  '',
  `Per idle peer link: ${perLinkMb.toFixed(2)} MB ((${many.idleRssMb.toFixed(1)} − ${one.idleRssMb.toFixed(1)}) / ${PEERS - 1}); bars: ≤ 2 MB per idle link, origin ≤ 150 MB with 15 peers.`,
];
console.log(lines.join('\n'));
if (values.out) writeFileSync(values.out, `${lines.join('\n')}\n`);
