// ⚙ The opt-in HTTP listener of [metrics]: `/metrics` (Prometheus text format), `/healthz` (200 "ok"
// or 503 with the reasons) and `/` (the status page). Read-only, GET/HEAD only, no authentication:
// the config refuses a non-loopback address unless allow_public is set. node:http and prom-client
// are imported when the listener starts, so a daemon without [metrics] loads neither.
import type { IncomingMessage, ServerResponse, Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { CsyncError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { MetricsConfig } from '../config/types.ts';
import { isLoopback } from '../config/parse.ts';
import type { ClusterRow } from './cluster-status.ts';
import type { Health } from './health.ts';
import { createDaemonMetrics } from './metrics.ts';
import type { DaemonMetrics, MetricsSnapshot } from './metrics.ts';
import { renderStatusPage } from './status-page.ts';

/** What the listener reads from the daemon, at request time. */
export interface MetricsSource {
  readonly node: string;
  snapshot(): MetricsSnapshot;
  health(): Health;
  clusterStatus(): Promise<ClusterRow[]>;
  nowMs(): number;
}

/** A started listener. */
export interface MetricsServer {
  /** The bound port (the configured one). */
  readonly port: number;
  /** Stops listening and drops open connections (scrapers reconnect). */
  close(): Promise<void>;
}

/** Connections served at once; a scraper and a few browsers need far fewer. */
const MAX_CONNECTIONS = 32;
/** A request must arrive whole within this time (a slow client does not hold a socket). */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Listens on `config.host:config.port`. Throws CSYNC_CONFIG_INVALID when the address cannot be
 * bound (in use, not an address of this host): the daemon then does not start.
 */
export async function startMetricsServer(config: MetricsConfig, source: MetricsSource, log: Logger): Promise<MetricsServer> {
  const prom = await import('prom-client');
  const { createServer } = await import('node:http');
  const metrics = createDaemonMetrics(prom, () => source.snapshot());
  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS, maxHeaderSize: 8192 }, (req, res) => {
    serve(req, res, { config, source, metrics }).catch((err: unknown) => fail(res, err, log));
  });
  server.maxConnections = MAX_CONNECTIONS;
  // A malformed request gets a 400 and its socket closed; it never reaches the daemon.
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  await listen(server, config);
  log.info({ address: config.host, port: config.port }, 'Serving metrics and the status page');
  return {
    port: config.port,
    close: () => closeServer(server),
  };
}

function listen(server: HttpServer, config: MetricsConfig): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = config.host.includes(':') ? `[${config.host}]:${config.port}` : `${config.host}:${config.port}`;
      reject(new CsyncError('CSYNC_CONFIG_INVALID', `metrics.listen: cannot listen on ${where}: ${err.code ?? err.message}`, {
        hint: 'choose a free port on an address of this host in [metrics] listen, or remove [metrics]',
        cause: err,
      }));
    });
    server.listen(config.port, config.host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
}

function closeServer(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

interface Ctx {
  readonly config: MetricsConfig;
  readonly source: MetricsSource;
  readonly metrics: DaemonMetrics;
}

async function serve(req: IncomingMessage, res: ServerResponse, ctx: Ctx): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'only GET and HEAD\n', { Allow: 'GET, HEAD' });
  if (!hostAllowed(req.headers.host, ctx.config)) return send(res, 421, 'text/plain', 'unexpected Host header\n');
  const path = (req.url ?? '/').split('?')[0];
  switch (path) {
    case '/metrics':
      return send(res, 200, ctx.metrics.contentType, await ctx.metrics.scrape());
    case '/healthz': {
      const h = ctx.source.health();
      return send(res, h.ok ? 200 : 503, 'text/plain', h.ok ? 'ok\n' : `${h.reasons.join('\n')}\n`);
    }
    case '/': {
      const rows = await ctx.source.clusterStatus();
      return send(res, 200, 'text/html', renderStatusPage(rows, { node: ctx.source.node, nowMs: ctx.source.nowMs() }));
    }
    default:
      return send(res, 404, 'text/plain', 'not found: try /, /metrics or /healthz\n');
  }
}

/**
 * On a loopback listener, only Host headers naming an IP address or localhost are served: a web page
 * elsewhere that rebinds its own DNS name to 127.0.0.1 then cannot read the page through a browser.
 * A public listener (allow_public) is reached by name, so any Host is accepted there.
 */
function hostAllowed(host: string | undefined, config: MetricsConfig): boolean {
  if (config.allowPublic || !isLoopback(config.host)) return true;
  if (host === undefined) return true;
  const name = host.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return isLoopback(name) || /^[0-9.]+$/.test(name) || name.includes(':');
}

function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': type.includes('charset') ? type : `${type}; charset=utf-8`,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    // Defence in depth for the page: no script, no frames, nothing loaded from elsewhere.
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    ...extra,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** A handler that threw: 500 for the client, a log line for the operator, the daemon runs on. */
function fail(res: ServerResponse, err: unknown, log: Logger): void {
  log.warn({ reason: err instanceof Error ? err.message : String(err) }, 'Metrics request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  send(res, 500, 'text/plain', 'internal error (see the daemon log)\n');
}
