// The listening side of a node: a TLS listener whose connections are served by servePeer().
import { readFileSync } from 'node:fs';
import { CsyncError } from '../core/errors.ts';
import { DEFAULT_PRE_AUTH_LIMITS } from '../net/admission.ts';
import type { PreAuthLimits } from '../net/admission.ts';
import { listenTls } from '../net/tls-transport.ts';
import type { RejectKind, TlsListener } from '../net/tls-transport.ts';
import { PathLocks } from '../sync/path-locks.ts';
import { OfferBudget } from '../sync/receive.ts';
import type { ReceiverHooks } from '../sync/receive.ts';
import { servePeer } from './peers.ts';
import type { TlsMaterial } from './peers.ts';
import type { Runtime } from './runtime.ts';
import { limitRepeats } from './log-limit.ts';

/** Reads this node's certificate and key; a clear error names `csync tls init` when missing. */
export function loadTlsMaterial(rt: Runtime): TlsMaterial {
  try {
    return { certPem: readFileSync(rt.view.tlsCert, 'utf8'), keyPem: readFileSync(rt.view.tlsKey, 'utf8') };
  } catch (err) {
    throw new CsyncError('CSYNC_CONFIG_INVALID', `tls: cannot read ${JSON.stringify(rt.view.tlsCert)} or ${JSON.stringify(rt.view.tlsKey)}`, {
      cause: err,
      hint: 'run `csync tls init` on this node to create its certificate and key',
    });
  }
}

/** Environment variables that override DEFAULT_PRE_AUTH_LIMITS (README "Running as a service"). */
const PRE_AUTH_ENV = {
  maxPending: 'CSYNC_PREAUTH_MAX',
  maxPendingPerSource: 'CSYNC_PREAUTH_MAX_PER_SOURCE',
  timeoutMs: 'CSYNC_PREAUTH_TIMEOUT_MS',
} as const satisfies Record<keyof PreAuthLimits, string>;

/**
 * The limits on unauthenticated connections: the defaults, each overridden by its environment
 * variable when set. Throws CSYNC_CONFIG_INVALID for a value that is not a whole number ≥ 1.
 */
export function preAuthLimitsFromEnv(env: Readonly<Record<string, string | undefined>>): PreAuthLimits {
  const pick = (key: keyof PreAuthLimits): number => {
    const name = PRE_AUTH_ENV[key];
    const text = env[name];
    if (text === undefined || text === '') return DEFAULT_PRE_AUTH_LIMITS[key];
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new CsyncError('CSYNC_CONFIG_INVALID', `environment: ${name}=${JSON.stringify(text)} is not a whole number ≥ 1`, {
        hint: `unset ${name} to use the default (${DEFAULT_PRE_AUTH_LIMITS[key]})`,
      });
    }
    return n;
  };
  return { maxPending: pick('maxPending'), maxPendingPerSource: pick('maxPendingPerSource'), timeoutMs: pick('timeoutMs') };
}

/** A running listener plus the connections it serves. */
export interface Server {
  readonly port: number;
  /** Stops listening and closes every connection; in-flight writes finish or are aborted cleanly. */
  close(): Promise<void>;
}

/** One static log message per kind of drop, so the rate limit of one kind does not hide another. */
const REJECT_MESSAGES: Readonly<Record<RejectKind, string>> = {
  limit: 'Connection refused: too many unauthenticated connections',
  timeout: 'Connection closed: not authenticated in time',
  tls: 'Connection closed: TLS handshake failed',
  'no-certificate': 'Connection closed: no client certificate',
};

/** Options of startServer. */
export interface ServerOptions {
  /** Listen address override (e.g. '127.0.0.1'); default this node's `[hosts]` address. */
  readonly host?: string;
  readonly port?: number;
  readonly hooks?: ReceiverHooks;
  /** Limits on unauthenticated connections (net/admission.ts); default DEFAULT_PRE_AUTH_LIMITS. */
  readonly preAuth?: PreAuthLimits;
}

/**
 * Starts listening on this node's `[hosts]` address. Connections dropped before authentication, and
 * the warnings of inbound links, are logged with the source address and the reason through a
 * rate-limited logger (daemon/log-limit.ts): a flood is summarised, not written line by line.
 */
export async function startServer(rt: Runtime, tls: TlsMaterial, opts: ServerOptions = {}): Promise<Server> {
  const locks = new PathLocks();
  // Offers in flight across every inbound link of this daemon (issue 11 item 5).
  const budget = new OfferBudget();
  const serving = new Set<Promise<void>>();
  const log = limitRepeats(rt.ctx.log, rt.ctx.clock);
  const listener: TlsListener = await listenTls({
    host: opts.host ?? rt.view.listen.address,
    port: opts.port ?? rt.view.listen.port,
    certPem: tls.certPem,
    keyPem: tls.keyPem,
    onConnection: (t) => {
      const p = servePeer(rt, t, locks, opts.hooks, log, budget).finally(() => serving.delete(p));
      serving.add(p);
    },
    onReject: (info) => log.warn({ remote: info.remote, kind: info.kind, reason: info.reason }, REJECT_MESSAGES[info.kind]),
    ...(opts.preAuth ? { preAuth: opts.preAuth } : {}),
  });
  rt.ctx.log.info({ port: listener.port }, 'Listening');
  return {
    port: listener.port,
    close: async () => {
      await listener.close();
      await Promise.all([...serving]);
      log.close();
    },
  };
}
