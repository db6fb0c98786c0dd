// Hostile input before authentication (issue 10 item 5): oversized frames, floods of connections
// that never authenticate, sockets that never finish TLS. The victim is a real `csync daemon` in a
// child process with the open-file limit at 256 and short pre-authentication limits; its peer runs
// in this process. Every attack must close only the offending connection, log its source and the
// reason, and leave the daemon serving a well-behaved peer meanwhile and afterwards.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { writeNodeCertificate } from '../../src/net/cert.ts';
import { DaemonCluster } from '../helpers/daemon-cluster.ts';

const BIN = join(dirname(new URL(import.meta.url).pathname), '../../../bin/csync.cjs');
/** Short limits for the victim, so closes can be awaited quickly (production: 128 / 16 / 10 s). */
const LIMITS = { maxPending: 32, perSource: 8, timeoutMs: 1500 };
const NOFILE = 256;

interface LogLine {
  msg: string;
  remote?: string;
  kind?: string;
  reason?: string;
  code?: string;
}

/** Starts `csync daemon` for `n` with `ulimit -n` NOFILE and the short limits; resolves once it started. */
/** A child's stderr so far, and waiters woken by each chunk. */
interface ChildLog {
  text: string;
  readonly waiters: Set<() => void>;
}

/** Resolves with the first line matching `pred` once the child logged it (event-driven); rejects after 10 s. */
function untilLogged(log: ChildLog, what: string, pred: (l: LogLine) => boolean): Promise<LogLine> {
  return new Promise((resolve, reject) => {
    const probe = (): void => {
      const line = parseLog(log.text).find(pred);
      if (line === undefined) return;
      clearTimeout(timer);
      log.waiters.delete(probe);
      resolve(line);
    };
    const timer = setTimeout(() => {
      log.waiters.delete(probe);
      reject(new Error(`the victim never logged ${what}; its log ends with: ${log.text.slice(-2000)}`));
    }, 10_000);
    log.waiters.add(probe);
    probe();
  });
}

async function spawnVictim(cluster: DaemonCluster, n: string, log: ChildLog): Promise<ChildProcess> {
  const child = spawn('/bin/sh', ['-c', `ulimit -n ${NOFILE} && exec "$@"`, 'sh', process.execPath, BIN, '-C', cluster.cfg, '-N', n, 'daemon'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      CSYNC_PREAUTH_MAX: String(LIMITS.maxPending),
      CSYNC_PREAUTH_MAX_PER_SOURCE: String(LIMITS.perSource),
      CSYNC_PREAUTH_TIMEOUT_MS: String(LIMITS.timeoutMs),
    },
  });
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      log.text += chunk.toString('utf8');
      for (const w of [...log.waiters]) w();
      if (log.text.includes('Daemon started')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`daemon ${n} exited with ${String(code)}: ${log.text}`)));
  });
  return child;
}

function parseLog(text: string): LogLine[] {
  return text.split('\n').filter((l) => l.startsWith('{') && l.endsWith('}')).map((l) => JSON.parse(l) as LogLine);
}

/** A TLS client (with a throwaway certificate) from `localAddress`; resolves with the socket once TLS is up. */
async function tlsClient(port: number, cert: { certPem: string; keyPem: string }, localAddress: string): Promise<tls.TLSSocket> {
  const tcp = net.connect({ host: '127.0.0.1', port, localAddress });
  tcp.on('error', () => {
    // Reported through the TLS socket below.
  });
  const socket = tls.connect({ socket: tcp, minVersion: 'TLSv1.3', rejectUnauthorized: false, cert: cert.certPem, key: cert.keyPem });
  socket.on('error', () => {
    // The server closes hostile connections; the tests await 'close'.
  });
  // A TLS socket over a socket we made does not close that socket: end both together.
  socket.once('close', () => tcp.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    tcp.once('close', () => reject(new Error('closed before TLS was up')));
  });
  return socket;
}

/** Resolves once the server ended or reset the connection (FIN or RST), then releases our side. */
function closedByServer(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.destroy();
      resolve();
    };
    if (socket.readableEnded || socket.destroyed) return done();
    socket.once('end', done);
    socket.once('close', done);
    socket.resume();
  });
}

function frameHeader(length: number): Uint8Array {
  const h = new Uint8Array(4);
  new DataView(h.buffer).setUint32(0, length, false);
  return h;
}

describe('before authentication, the daemon bounds what a stranger can make it hold', () => {
  let cluster: DaemonCluster;
  let victim: ChildProcess | undefined;
  const victimLog: ChildLog = { text: '', waiters: new Set() };
  let port = 0;
  let certDir: string;
  let cert: { certPem: string; keyPem: string };
  let synced = 0;

  /** Writes a new file on each node and waits until both reached the other (the well-behaved peer still syncs). */
  async function bothWaysSync(): Promise<void> {
    synced += 1;
    const name = `sync-${synced}.txt`;
    cluster.write('b', `from-b/${name}`, `b ${synced}`);
    cluster.write('a', `from-a/${name}`, `a ${synced}`);
    await cluster.until(`${name} reached both nodes`, () => cluster.read('a', `from-b/${name}`) === `b ${synced}` && cluster.read('b', `from-a/${name}`) === `a ${synced}`, 30_000);
  }

  /**
   * (Re)starts the victim with an empty log, so each flood starts with a fresh log-limit window
   * (20 lines per message and minute), then syncs both ways so the peer links are up.
   */
  async function restartVictim(): Promise<void> {
    await stopVictim();
    victimLog.text = '';
    victim = await spawnVictim(cluster, 'a', victimLog);
    await bothWaysSync();
  }

  async function stopVictim(): Promise<void> {
    const child = victim;
    victim = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  before(async () => {
    cluster = await DaemonCluster.start({ nodes: ['a', 'b'], watch: true, external: ['a'] });
    port = Number(/^a = "127\.0\.0\.1:(\d+)"$/m.exec(readFileSync(cluster.cfg, 'utf8'))?.[1]);
    certDir = await mkdtemp(join(tmpdir(), 'csync-attacker-'));
    await writeNodeCertificate({ certPath: join(certDir, 'x.crt'), keyPath: join(certDir, 'x.key'), nodeName: 'mallory', overwrite: false });
    cert = { certPem: await readFile(join(certDir, 'x.crt'), 'utf8'), keyPem: await readFile(join(certDir, 'x.key'), 'utf8') };
    await restartVictim();
  });

  after(async () => {
    await stopVictim();
    await cluster.close();
    await rm(certDir, { recursive: true, force: true });
  });

  for (const { name, declared, body } of [
    { name: 'a 1 GiB declared frame', declared: 1024 ** 3, body: 1024 },
    { name: 'a 64 KiB frame', declared: 64 * 1024, body: 64 * 1024 },
  ]) {
    it(`closes the connection that sends ${name} before authenticating, and only that one`, async () => {
      const bystander = await tlsClient(port, cert, '127.0.0.2');
      const attacker = await tlsClient(port, cert, '127.0.0.3');
      const local = `127.0.0.3:${attacker.localPort ?? 0}`;
      attacker.write(frameHeader(declared));
      attacker.write(new Uint8Array(body));
      await closedByServer(attacker);
      assert.equal(bystander.destroyed, false, 'a connection that sent nothing is not closed with it');
      const line = await untilLogged(victimLog, `a refusal of ${local}`, (l) => l.remote === local && l.msg === 'Inbound connection refused');
      assert.equal(line.code, 'CSYNC_PROTO_INVALID_FRAME');
      assert.equal(line.reason, `frame of ${declared} bytes exceeds the limit of 16384`);
      bystander.destroy();
      await bothWaysSync();
    });
  }

  it('closes 300 sockets that never start TLS (most at once, the rest within the timeout) while the peer syncs', async () => {
    await restartVictim();
    const sources = ['127.0.0.4', '127.0.0.5', '127.0.0.6'];
    const started = Date.now();
    const sockets = await Promise.all(Array.from({ length: 300 }, (_, i) => new Promise<{ socket: net.Socket; local: string }>((resolve, reject) => {
      const localAddress = sources[i % sources.length] as string;
      const socket = net.connect({ host: '127.0.0.1', port, localAddress });
      socket.on('error', () => {
        // A refused connection may be reset; 'close' follows.
      });
      socket.once('connect', () => resolve({ socket, local: `${localAddress}:${socket.localPort ?? 0}` }));
      socket.once('close', () => reject(new Error('closed before connecting')));
    })));
    const closedAt = sockets.map(({ socket }) => closedByServer(socket).then(() => Date.now() - started));
    // The peer syncs while the sockets are held (with the limit at 256 files, 300 held sockets made
    // it fail with EMFILE before the per-source limit).
    await bothWaysSync();
    const times = await Promise.all(closedAt);
    const early = times.filter((ms) => ms < LIMITS.timeoutMs).length;
    assert.ok(early >= 300 - sources.length * LIMITS.perSource, `${early} of 300 closed before the timeout: the per-source limit holds at most ${sources.length * LIMITS.perSource}`);
    assert.ok(Math.max(...times) < LIMITS.timeoutMs + 5_000, `every socket closed within the timeout (slowest: ${Math.max(...times)} ms)`);
    const locals = new Set(sockets.map(({ local }) => local));
    await untilLogged(victimLog, 'a per-source refusal naming an attacking socket', (l) => locals.has(l.remote ?? '') && l.kind === 'limit' && l.reason === `too many unauthenticated connections from this source (limit ${LIMITS.perSource})`);
    await untilLogged(victimLog, 'a timeout naming an attacking socket', (l) => locals.has(l.remote ?? '') && l.kind === 'timeout' && l.reason === `not authenticated within ${LIMITS.timeoutMs} ms`);
    const refusals = parseLog(victimLog.text).filter((l) => l.msg === 'Connection refused: too many unauthenticated connections');
    assert.ok(refusals.length <= 20, `repeated refusals are rate-limited in the log (${refusals.length} lines)`);
    await bothWaysSync();
  });

  it('survives 1,000 connections that finish TLS but never authenticate, and a new peer connection works afterwards', async () => {
    await restartVictim();
    const sources = Array.from({ length: 10 }, (_, i) => `127.0.0.${10 + i}`);
    const closes: Promise<void>[] = [];
    const locals = new Set<string>();
    let refusedAtAccept = 0;
    // A bounded loop: 100 connection attempts in flight at a time.
    for (let batch = 0; batch < 10; batch++) {
      const attempts = Array.from({ length: 100 }, async (_, i) => {
        const localAddress = sources[(batch * 100 + i) % sources.length] as string;
        try {
          const s = await tlsClient(port, cert, localAddress);
          locals.add(`${localAddress}:${s.localPort ?? 0}`);
          closes.push(closedByServer(s));
        } catch {
          refusedAtAccept += 1; // Refused before TLS completed: the total or per-source limit.
        }
      });
      await Promise.all(attempts);
      if (batch === 4) await bothWaysSync();
    }
    await Promise.all(closes);
    assert.ok(refusedAtAccept > 0, 'some connections were refused at once by the limits');
    await untilLogged(victimLog, 'a timeout naming an attacking socket', (l) => locals.has(l.remote ?? '') && l.kind === 'timeout' && l.reason === `not authenticated within ${LIMITS.timeoutMs} ms`);
    await untilLogged(victimLog, 'a refusal for the total limit naming an attacking source', (l) => sources.some((a) => l.remote?.startsWith(`${a}:`)) && l.kind === 'limit' && l.reason === `too many unauthenticated connections (limit ${LIMITS.maxPending} in total)`);
    assert.equal(victim?.exitCode, null, 'the daemon is still running');
    await bothWaysSync();
    // A fresh connection from the peer (a CLI run opens its own) authenticates and delivers.
    cluster.write('b', 'fresh/cli.txt', 'via a new connection');
    const run = await cluster.run('b', '-x', join(cluster.root('b'), 'fresh/cli.txt'));
    assert.equal(run.status, 0, run.err);
    assert.equal(cluster.read('a', 'fresh/cli.txt'), 'via a new connection');
  });
});
