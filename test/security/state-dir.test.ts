// Issue 10 items 6 and 7: one daemon per state dir (a second one exits with status 75 naming the
// holder, and the first one's control socket keeps working), a kill -9 leaves no lock behind, the
// state dir is 0700 and the control socket 0600, and a daemon removes only its own socket.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ERROR_CATALOGUE } from '../../src/core/errors.ts';
import { DaemonCluster } from '../helpers/daemon-cluster.ts';

const BIN = join(dirname(new URL(import.meta.url).pathname), '../../../bin/csync.cjs');

/** Runs `csync daemon` for `n` to completion (it is expected to refuse to start). */
async function runSecondDaemon(cluster: DaemonCluster, n: string): Promise<{ status: number | null; err: string }> {
  const child = spawn(process.execPath, [BIN, '-C', cluster.cfg, '-N', n, 'daemon'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const status = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { status, err };
}

/** Sends one line to a control socket and resolves with the answer line (the daemon serves it). */
async function askControl(path: string): Promise<string> {
  const sock = net.connect(path);
  let reply = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => (reply += d));
  sock.write('not a request\n');
  await new Promise<void>((resolve, reject) => {
    sock.once('close', () => resolve());
    sock.once('error', reject);
  });
  return reply;
}

describe('the state dir belongs to one daemon', () => {
  let cluster: DaemonCluster;
  const stateDir = (n: string): string => join(cluster.dir, n, 'state');
  const socketOf = (n: string): string => join(stateDir(n), 'control.sock');

  before(async () => {
    cluster = await DaemonCluster.start({ nodes: ['a', 'b'], watch: false, external: ['a', 'b'] });
  });

  after(async () => {
    await cluster.close();
  });

  let firstPid = 0;

  it('creates the state dir 0700 and the control socket 0600, with no bind directory left', async () => {
    const child = await cluster.spawnNode('a');
    firstPid = child.pid ?? 0;
    assert.equal(statSync(stateDir('a')).mode & 0o777, 0o700);
    assert.equal(lstatSync(socketOf('a')).mode & 0o777, 0o600);
    assert.ok(lstatSync(socketOf('a')).isSocket());
    assert.deepEqual(readdirSync(stateDir('a')).filter((n) => n.startsWith('.c')), []);
  });

  it('refuses a second daemon on the same state dir with status 75, naming the pid and the dir; the first socket still works', async () => {
    const inoBefore = lstatSync(socketOf('a')).ino;
    const second = await runSecondDaemon(cluster, 'a');
    assert.equal(second.status, ERROR_CATALOGUE.CSYNC_DAEMON_RUNNING.exitStatus);
    assert.equal(second.status, 75);
    assert.equal(Number(readFileSync(join(stateDir('a'), 'daemon.pid'), 'utf8').trim()), firstPid);
    assert.match(second.err, new RegExp(`state dir ${escape(JSON.stringify(stateDir('a')))}: in use by another csync daemon \\(pid ${firstPid}\\)`));
    assert.match(second.err, /hint: only one daemon may run per state dir/);
    assert.equal(lstatSync(socketOf('a')).ino, inoBefore, 'the first daemon\'s socket is still there');
    assert.equal(await askControl(socketOf('a')), '{"fallback":true}\n');
  });

  it('starts again after the holder was killed with SIGKILL (no stale lock), replacing its stale socket', async () => {
    await cluster.killNode('a', 'SIGKILL');
    assert.ok(lstatSync(socketOf('a')).isSocket(), 'the killed daemon left its socket behind');
    await cluster.spawnNode('a');
    assert.equal(await askControl(socketOf('a')), '{"fallback":true}\n');
    await cluster.killNode('a', 'SIGTERM');
  });

  it('tightens a state dir made 0755 by hand, and on exit removes only its own socket', async () => {
    mkdirSync(stateDir('b'), { recursive: true });
    chmodSync(stateDir('b'), 0o755);
    await cluster.spawnNode('b');
    assert.equal(statSync(stateDir('b')).mode & 0o777, 0o700);
    assert.match(cluster.childLog('b'), /State dir was open to other users; made it private \(0700\)/);
    // Someone else's file now sits at the socket's path: the daemon must not delete it on exit.
    renameSync(socketOf('b'), join(stateDir('b'), 'moved.sock'));
    writeFileSync(socketOf('b'), 'not ours');
    await cluster.killNode('b', 'SIGTERM');
    assert.ok(lstatSync(socketOf('b')).isFile(), 'the other file at control.sock was left alone');
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
