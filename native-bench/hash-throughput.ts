// Micro-benchmark: xxh64 content hashing (src/scanner/hasher.ts), one-shot and streamed, in MB/s.
import { loadHasher } from '../src/scanner/hasher.ts';
import { seededBytes } from './lib/util.ts';

const hasher = await loadHasher();
for (const size of [4096, 65536, 1 << 20]) {
  const buf = seededBytes(size, 7);
  const rounds = Math.max(50, Math.floor((256 << 20) / size));
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) hasher.hashBytes(buf);
  const s = (performance.now() - t0) / 1000;
  process.stdout.write(`hashBytes ${size} B: ${(rounds / s).toFixed(0)} ops/s, ${((rounds * size) / s / 1e6).toFixed(0)} MB/s\n`);
}
const chunk = seededBytes(1 << 20, 9);
const t0 = performance.now();
const h = hasher.start();
for (let i = 0; i < 512; i++) h.update(chunk);
h.digestHex();
const s = (performance.now() - t0) / 1000;
process.stdout.write(`streamed 512 MiB in 1 MiB chunks: ${((512 * 1048576) / s / 1e6).toFixed(0)} MB/s\n`);
