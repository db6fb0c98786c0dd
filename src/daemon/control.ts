// The daemon's control socket (`<state_dir>/control.sock`, mode 0600): a local command line such
// as a hook's `csync -x FILE` is handed to the running daemon, which runs it over its open peer
// links instead of a new process opening its own store and TLS connections. One JSON line in
// ({ argv, cwd, config, node }), one JSON line out ({ status, out, err } or { fallback: true }).
// The launcher (bin/csync.cjs) falls back to running the command itself whenever the socket is
// absent, refuses, or answers `fallback`.
import { chmodSync, realpathSync, unlinkSync } from 'node:fs';
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
 * Listens on `<stateDir>/control.sock` (removing a stale socket first). Resolves undefined, with a
 * warning, when it cannot listen (a path over the 107-byte limit, a read-only dir): the daemon runs
 * on and clients run their commands themselves.
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
  try {
    try {
      unlinkSync(path);
    } catch {
      // No stale socket.
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
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
        unlinkSync(path);
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
