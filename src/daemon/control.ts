// The daemon's control socket (`<state_dir>/control.sock`, mode 0600): a local command line such
// as a hook's `csync -x FILE` is handed to the running daemon, which runs it over its open peer
// links instead of a new process opening its own store and TLS connections. One JSON line in
// ({ argv, cwd, config, node }), one JSON line out ({ status, out, err } or { fallback: true }).
// The launcher (bin/csync.cjs) falls back to running the command itself whenever the socket is
// absent, refuses, or answers `fallback`.
import { chmodSync, lstatSync, mkdtempSync, readdirSync, realpathSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../core/logger.ts';

/** A command line handed over by a local client. */
export interface ControlRequest {
  readonly argv: readonly string[];
  readonly cwd: string;
  /** The client's config path and node name: the daemon serves only its own. */
  readonly config: string;
  readonly node: string;
}

/** The answer: the command's exit status and output, or "run it yourself". */
export type ControlReply = { readonly status: number; readonly out: string; readonly err: string } | { readonly fallback: true };

/** Runs one handed-over command (supplied by the CLI layer). */
export type ControlHandler = (req: ControlRequest) => Promise<ControlReply>;

/** Largest request accepted (a long list of paths still fits). */
const MAX_REQUEST_BYTES = 1024 * 1024;

/** The socket path of a state dir. */
export function controlSocketPath(stateDir: string): string {
  return join(stateDir, 'control.sock');
}

/** True when `a` and `b` name the same existing file. */
export function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    // Either is gone: not the same config.
    return false;
  }
}

/** A listening control socket. */
export interface ControlServer {
  close(): Promise<void>;
}

/**
 * Makes the state dir private (mode 0700) if it is not: it holds the store, the pins and the control
 * socket. A dir csync created is 0700 already; one made by hand or by an older unit is tightened,
 * with a warning naming the old mode. Failures are logged, not thrown (the socket is still 0600).
 */
export function tightenStateDir(stateDir: string, log: Logger): void {
  try {
    const mode = statSync(stateDir).mode & 0o777;
    if ((mode & 0o077) === 0) return;
    chmodSync(stateDir, mode & 0o700);
    log.warn({ stateDir, mode: `0${mode.toString(8)}` }, 'State dir was open to other users; made it private (0700)');
  } catch (err) {
    log.warn({ stateDir, reason: err instanceof Error ? err.message : String(err) }, 'Could not make the state dir private');
  }
}

/** Private directories in which the socket is bound before it is moved into place: `.c` + 6 random. */
const BIND_DIR_RE = /^\.c[A-Za-z0-9]{6}$/;

/**
 * Binds a listening socket at `path` with mode 0600 from the moment it is reachable: it is bound in
 * a fresh private directory (mkdtemp, 0700), chmod-ed there, then renamed over `path` (which also
 * replaces a stale socket atomically). Node unlinks the *bound* path when the server closes, which
 * is then that vanished temp path, never `path`. Returns the inode now at `path`.
 */
async function bindPrivately(server: Server, stateDir: string, path: string): Promise<number> {
  // Leftovers of a daemon killed between mkdtemp and rmdir (only the lock holder gets here).
  for (const name of readdirSync(stateDir)) if (BIND_DIR_RE.test(name)) rmSync(join(stateDir, name), { recursive: true, force: true });
  const dir = mkdtempSync(join(stateDir, '.c'));
  try {
    const bound = join(dir, 's');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bound, () => resolve());
    });
    chmodSync(bound, 0o600);
    renameSync(bound, path);
    return lstatSync(path).ino;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Listens on `<stateDir>/control.sock` (replacing a stale socket). Call it only while holding the
 * state dir's lock (store/state-dir-lock.ts). close() removes the socket only if it is still the
 * one this server bound. Resolves undefined, with a warning, when it cannot listen (a path over
 * the 107-byte limit, a read-only dir): the daemon runs on and clients run their commands themselves.
 */
export async function listenControl(stateDir: string, handler: ControlHandler, log: Logger): Promise<ControlServer | undefined> {
  const path = controlSocketPath(stateDir);
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = '';
    sock.setEncoding('utf8');
    const onData = (chunk: string): void => {
      buf += chunk;
      if (buf.length > MAX_REQUEST_BYTES) {
        sock.destroy();
        return;
      }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      sock.off('data', onData);
      void answer(buf.slice(0, nl)).then((reply) => sock.end(`${JSON.stringify(reply)}\n`));
    };
    sock.on('data', onData);
  });
  const answer = async (line: string): Promise<ControlReply> => {
    let req: ControlRequest;
    try {
      req = parseRequest(JSON.parse(line));
    } catch {
      return { fallback: true };
    }
    try {
      return await handler(req);
    } catch (err) {
      log.error({ reason: err instanceof Error ? err.message : String(err) }, 'bug: control request failed');
      return { fallback: true };
    }
  };
  let ino: number;
  try {
    ino = await bindPrivately(server, stateDir, path);
  } catch (err) {
    log.warn({ path, reason: err instanceof Error ? err.message : String(err) }, 'No control socket: local commands run on their own');
    server.close();
    return undefined;
  }
  return {
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
      try {
        if (lstatSync(path).ino === ino) unlinkSync(path);
      } catch {
        // Already gone.
      }
    }),
  };
}

function parseRequest(v: unknown): ControlRequest {
  const o = v as Record<string, unknown>;
  const str = (x: unknown): string => {
    if (typeof x !== 'string') throw new Error('bad request');
    return x;
  };
  if (typeof o !== 'object' || o === null || !Array.isArray(o['argv'])) throw new Error('bad request');
  return { argv: (o['argv'] as unknown[]).map(str), cwd: str(o['cwd']), config: str(o['config']), node: str(o['node']) };
}
