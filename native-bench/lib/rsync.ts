// rsync in daemon mode as a second reference (issue 5): one daemon per receiver on
// 127.0.0.1, reached through a counting proxy. rsync does not fsync; that is noted in the results.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { children, CountingProxy, discard, timed } from './util.ts';

/** An rsync daemon serving module `m` at `dest`, behind a proxy. */
export class RsyncTarget {
  readonly dest: string;
  private readonly dir: string;
  private readonly port: number;
  private readonly proxy = new CountingProxy();
  private child: ReturnType<typeof spawn> | undefined;

  constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
    this.dest = join(dir, 'dest');
  }

  async start(): Promise<void> {
    mkdirSync(this.dest, { recursive: true });
    const conf = join(this.dir, 'rsyncd.conf');
    writeFileSync(conf, `pid file = ${join(this.dir, 'rsyncd.pid')}\nuse chroot = no\n[m]\npath = ${this.dest}\nread only = no\nuid = root\ngid = root\n`);
    this.child = spawn('rsync', ['--daemon', '--no-detach', `--port=${this.port}`, '--address=127.0.0.1', `--config=${conf}`], { stdio: 'ignore' });
    children.add(this.child);
    await this.proxy.start(this.port + 100, this.port);
    // Wait until the daemon accepts connections (a listing succeeds).
    for (let i = 0; i < 100; i++) {
      try {
        await timed('rsync', [`rsync://127.0.0.1:${this.port}/m/`]);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error('rsync daemon did not start');
  }

  get wire(): number {
    return this.proxy.bytes;
  }

  resetWire(): void {
    this.proxy.bytes = 0;
  }

  wipe(): void {
    discard(this.dest);
    mkdirSync(this.dest, { recursive: true });
  }

  /** `rsync -a --delete SRC/ rsync://…/m/` (plus `extra`, e.g. --dry-run). */
  push(src: string, extra: readonly string[] = []): Promise<{ ms: number; rssKb: number; out: string }> {
    return timed('rsync', ['-a', '--delete', ...extra, `${src}/`, `rsync://127.0.0.1:${this.port + 100}/m/`]);
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise<void>((resolve) => this.child?.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      await exited;
    }
    if (this.child) children.delete(this.child);
    await this.proxy.stop();
  }
}
