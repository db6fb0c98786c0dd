// The listening side of a node: a TLS listener whose connections are served by servePeer().
import { readFileSync } from 'node:fs';
import { CsyncError } from '../core/errors.ts';
import { listenTls } from '../net/tls-transport.ts';
import type { TlsListener } from '../net/tls-transport.ts';
import { PathLocks } from '../sync/path-locks.ts';
import { OfferBudget } from '../sync/receive.ts';
import type { ReceiverHooks } from '../sync/receive.ts';
import { servePeer } from './peers.ts';
import type { TlsMaterial } from './peers.ts';
import type { Runtime } from './runtime.ts';

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

/** A running listener plus the connections it serves. */
export interface Server {
  readonly port: number;
  /** Stops listening and closes every connection; in-flight writes finish or are aborted cleanly. */
  close(): Promise<void>;
}

/** Starts listening on this node's `[hosts]` address (or `host` when given, e.g. '127.0.0.1'). */
export async function startServer(rt: Runtime, tls: TlsMaterial, opts: { host?: string; port?: number; hooks?: ReceiverHooks } = {}): Promise<Server> {
  const locks = new PathLocks();
  // Offers in flight across every inbound link of this daemon (issue 11 item 5).
  const budget = new OfferBudget();
  const serving = new Set<Promise<void>>();
  const listener: TlsListener = await listenTls({
    host: opts.host ?? rt.view.listen.address,
    port: opts.port ?? rt.view.listen.port,
    certPem: tls.certPem,
    keyPem: tls.keyPem,
    onConnection: (t) => {
      const p = servePeer(rt, t, locks, opts.hooks, budget).finally(() => serving.delete(p));
      serving.add(p);
    },
    onReject: (info) => rt.ctx.log.warn(info, 'Connection dropped before authentication'),
  });
  rt.ctx.log.info({ port: listener.port }, 'Listening');
  return {
    port: listener.port,
    close: async () => {
      await listener.close();
      await Promise.all([...serving]);
    },
  };
}
