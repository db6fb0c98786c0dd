// W1 at 100,000 files (issue 16): 100,000 files of 100–1,000 bytes in 1,000 directories, pushed by
// n0's daemon (`csync -x` handed to it) to n1's daemon, both `csync daemon` processes with the
// unit's V8 flag; the same tree pushed by `rsync -a --fsync` to an rsync daemon. Prints the times,
// their ratio, and the peak RSS of both csync daemons (bar: ≤ 0.8 × rsync --fsync, ≤ 200 MB each).
// Not part of `npm test` (a few minutes).
//   node build/native-bench/many-files.js [--files 100000] [--out FILE]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CsyncCluster, CSYNC_BIN } from './lib/csync.ts';
import { RsyncTarget } from './lib/rsync.ts';
import { discard, put, seededBytes, timed } from './lib/util.ts';

const { values } = parseArgs({ options: { files: { type: 'string', default: '100000' }, out: { type: 'string' } } });
const FILES = Number(values.files);
const dir = mkdtempSync(join(tmpdir(), 'csync-many-files-'));
const c = new CsyncCluster(join(dir, 'csync'), ['n0', 'n1'], 43000 + Math.floor(Math.random() * 500) * 20);
const rsync = new RsyncTarget(join(dir, 'rsync'), 45000 + Math.floor(Math.random() * 500) * 2);
try {
  await c.setup();
  const src = join(dir, 'src');
  for (let i = 0; i < FILES; i++) {
    const size = 100 + ((i * 7919) % 901);
    put(join(src, `d${String(i % 1000).padStart(3, '0')}`, `f${i}`), seededBytes(size, i + 1));
  }
  // The tree is the sender's root: copied with its mtimes, as W1 does.
  const { cpSync } = await import('node:fs');
  cpSync(src, c.root('n0'), { recursive: true, preserveTimestamps: true });
  await c.startDaemons({ nodes: ['n0', 'n1'] });
  const cs = await timed(process.execPath, [CSYNC_BIN, '-C', join(c.dir, 'send.toml'), '-N', 'n0', '-x', '-q']);
  const senderMb = c.daemonPeakRssKb('n0') / 1024;
  const receiverMb = c.daemonPeakRssKb('n1') / 1024;
  await c.close();
  await rsync.start();
  const rs = await rsync.push(src, ['--fsync']);
  await rsync.stop();
  const lines = [
    `| ${FILES} files of 100–1,000 B | csync (\`-x\` via n0's daemon) | rsync --fsync | ratio (bar ≤ 0.8) | sender daemon peak RSS | receiver daemon peak RSS (bar ≤ 200 MB) |`,
    '|---|---|---|---|---|---|',
    `| first sync | ${(cs.ms / 1000).toFixed(2)} s | ${(rs.ms / 1000).toFixed(2)} s | ${(cs.ms / rs.ms).toFixed(2)}× | ${senderMb.toFixed(0)} MB | ${receiverMb.toFixed(0)} MB |`,
  ];
  console.log(lines.join('\n'));
  if (values.out) writeFileSync(values.out, `${lines.join('\n')}\n`);
} finally {
  await c.close();
  await rsync.stop();
  discard(dir);
}
