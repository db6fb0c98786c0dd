// csync2 2.x from Debian as the reference (issue 5): two nodes on loopback addresses 127.0.0.11 and
// .12 (csync2 binds to the address its -N name resolves to), TLS on, each node with its own key but
// the same certificate subject (a csync2 bug refuses differing self-signed subjects), its config,
// key and certificates in CSYNC2_SYSTEM_DIR, its database under -D. The sender talks to port 30866,
// where a counting proxy forwards to the receiver's 30865.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { children, CountingProxy, discard, timed } from './util.ts';

const ADDR = ['127.0.0.11', '127.0.0.12'] as const;
const PORT = 30865;

/** True when csync2 is installed (the harness tries `apt-get install csync2` first). */
export function csync2Available(): boolean {
  return debianTool('csync2');
}

/**
 * True when `name` is on the PATH, after trying to install the Debian package of that name when it
 * is missing (as root; `apt-get update` only if the first install fails).
 */
export function debianTool(name: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${name}`]).status !== 0) {
    spawnSync('sh', ['-c', `apt-get install -y ${name} >/dev/null 2>&1 || (apt-get update >/dev/null 2>&1 && apt-get install -y ${name} >/dev/null 2>&1)`]);
  }
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/** A two-node csync2 cluster. */
export class Csync2Cluster {
  private readonly dir: string;
  private readonly proxy = new CountingProxy();
  private server: ReturnType<typeof spawn> | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  root(i: number): string {
    return join(this.dir, `n${i}`, 'root');
  }

  private sys(i: number): string {
    return join(this.dir, `n${i}`, 'sys');
  }

  private db(i: number): string {
    return join(this.dir, `n${i}`, 'db');
  }

  async setup(): Promise<void> {
    const cfg = `nossl * *;\ngroup bench {\n  host ${ADDR[0]} ${ADDR[1]};\n  key ${join(this.dir, 'csync2.key')};\n  include %data%;\n  auto none;\n}\nprefix data {\n  on ${ADDR[0]}: ${this.root(0)};\n  on ${ADDR[1]}: ${this.root(1)};\n}\n`;
    mkdirSync(this.dir, { recursive: true });
    spawnSync('csync2', ['-k', join(this.dir, 'csync2.key')]);
    for (const i of [0, 1]) {
      mkdirSync(this.sys(i), { recursive: true });
      writeFileSync(join(this.sys(i), 'csync2.cfg'), cfg.replace('nossl * *;\n', ''));
      spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(this.sys(i), 'csync2_ssl_key.pem'), '-out', join(this.sys(i), 'csync2_ssl_cert.pem'), '-days', '30', '-subj', '/CN=csync2-bench'], { stdio: 'ignore' });
      cpSync(join(this.dir, 'csync2.key'), join(this.sys(i), 'csync2.key'));
    }
    await this.proxy.start(PORT + 1, PORT, ADDR[1], ADDR[1], ADDR[0]);
  }

  wire(): number {
    return this.proxy.bytes;
  }

  /** Empties both roots and databases, puts `src` on node 0, restarts the receiving server. */
  async wipe(src: string): Promise<void> {
    await this.stopServer();
    for (const i of [0, 1]) {
      discard(this.root(i));
      discard(this.db(i));
      mkdirSync(this.root(i), { recursive: true });
      mkdirSync(this.db(i), { recursive: true });
    }
    cpSync(src, this.root(0), { recursive: true, preserveTimestamps: true });
    this.server = spawn('csync2', ['-ii', '-N', ADDR[1], '-D', this.db(1), '-p', String(PORT)], { env: { ...process.env, CSYNC2_SYSTEM_DIR: this.sys(1) }, stdio: 'ignore' });
    children.add(this.server);
    await waitListening(ADDR[1], PORT);
    this.proxy.bytes = 0;
  }

  /**
   * Runs csync2 as node 0, straight to the receiver: through the proxy csync2 stalls at the end of
   * every session (it waits for a half-close the proxy does not reproduce), which would time the proxy.
   * Bytes on the wire are therefore not measured for csync2.
   */
  run(args: readonly string[]): Promise<{ ms: number; rssKb: number; out: string }> {
    return timed('csync2', ['-N', ADDR[0], '-D', this.db(0), '-p', String(PORT), ...args], { env: { CSYNC2_SYSTEM_DIR: this.sys(0) }, okCodes: [1, 2] });
  }

  private async stopServer(): Promise<void> {
    const s = this.server;
    if (!s || s.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => s.once('exit', () => resolve()));
    s.kill('SIGTERM');
    await exited;
    children.delete(s);
  }

  async close(): Promise<void> {
    await this.stopServer();
    await this.proxy.stop();
  }
}

/** Resolves once something accepts TCP connections at host:port (polled: csync2 has no ready signal). */
async function waitListening(host: string, port: number): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`csync2 server at ${host}:${port} did not start`);
}
