// Shared bench plumbing: timing a command with its peak RSS, a byte-counting TCP proxy, seeded data,
// tree comparison, and process cleanup. Never part of `npm test`.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { dirname, join } from 'node:path';

/** One measured run. */
export interface Sample {
  readonly ms: number;
  /** Peak resident set of the measured process(es), KiB (0 when unknown). */
  readonly rssKb: number;
  /** Bytes through the counting proxies during the run (0 when not proxied). */
  readonly wireBytes: number;
}

/** Runs a command to completion under /usr/bin/time; resolves with wall ms and peak RSS. Rejects on a non-zero exit unless `okCodes` has it. */
export function timed(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; okCodes?: readonly number[]; cwd?: string } = {}): Promise<{ ms: number; rssKb: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '__RSS__%M', cmd, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = performance.now() - t0;
      const rss = Number(/__RSS__(\d+)/.exec(err)?.[1] ?? 0);
      if (code !== 0 && !(opts.okCodes ?? []).includes(code ?? -1)) reject(new Error(`${cmd} ${args.join(' ')} exited ${String(code)}: ${err.slice(-2000)}${out.slice(-1000)}`));
      else resolve({ ms, rssKb: rss, out });
    });
  });
}

/** A TCP proxy on 127.0.0.1 that counts every byte in both directions. */
export class CountingProxy {
  bytes = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  /** `localAddress`: source address towards the target (csync2 identifies peers by address). */
  async start(listenPort: number, targetPort: number, targetHost = '127.0.0.1', listenHost = '127.0.0.1', localAddress?: string): Promise<void> {
    // noDelay both ways: Nagle would hold small frames ~40 ms and time the proxy, not the tool.
    this.server = createServer({ noDelay: true }, (client) => {
      const upstream = connect({ port: targetPort, host: targetHost, noDelay: true, ...(localAddress ? { localAddress } : {}) });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.on('data', (d: Buffer) => (this.bytes += d.length));
      upstream.on('data', (d: Buffer) => (this.bytes += d.length));
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(listenPort, listenHost, () => resolve());
    });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** xorshift32: the same seed gives the same bytes on every machine. */
export function seededBytes(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  for (; i < size; i++) out[i] = i & 0xff;
  return out;
}

/** W1's tree: `files` files of 1–8 KiB in `dirs` directories, from `seed`. */
export function makeTree(root: string, opts: { files: number; dirs: number; seed: number }): void {
  let x = opts.seed;
  const next = (): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x;
  };
  for (let i = 0; i < opts.files; i++) {
    const dir = join(root, `d${String(i % opts.dirs).padStart(3, '0')}`);
    if (i < opts.dirs) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${String(i).padStart(5, '0')}.dat`), seededBytes(1024 + (next() % 7169), next()));
  }
}

/** A fingerprint of a tree (relative paths, sizes, content hashes) to check that two trees match. */
export function treeDigest(root: string): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (name.includes('.csync-')) continue;
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else h.update(`${p.slice(root.length)}\0${st.size}\0`).update(readFileSync(p));
    }
  };
  walk(root);
  return h.digest('hex');
}

/** Writes a file, creating its directory. */
export function put(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

/** Children started by the harness, killed on exit whatever happens. */
export const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Median, min and max of numbers. */
export function stats(xs: readonly number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length === 0 ? Number.NaN : s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] ?? Number.NaN, max: s[s.length - 1] ?? Number.NaN };
}

let trashDir: string | undefined;
let trashed = 0;

/** Where discard() moves trees (inside the harness's temp dir, removed with it at the end). */
export function setTrash(dir: string): void {
  mkdirSync(dir, { recursive: true });
  trashDir = dir;
}

/**
 * Removes a tree between runs. A tree of many entries is moved into the trash instead of deleted:
 * ext4 allocates new inodes slowly for minutes after many were freed in the same block group
 * (`recently_deleted()` scans them on every create), so deleting 20,000 files and creating them
 * again at once would time the filesystem, not the tool (20 s instead of 7 s here). Small trees
 * and big files are deleted (disk space).
 */
export function discard(path: string): void {
  if (!existsSync(path)) return;
  if (trashDir === undefined || entriesAtLeast(path, 1000) < 1000) {
    rmSync(path, { recursive: true, force: true });
    return;
  }
  renameSync(path, join(trashDir, `t${trashed++}`));
}

function entriesAtLeast(path: string, limit: number): number {
  let n = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (++n >= limit) return;
      if (e.isDirectory()) walk(join(dir, e.name));
      if (n >= limit) return;
    }
  };
  if (statSync(path).isDirectory()) walk(path);
  return n;
}
