// Test helper: a TCP proxy on 127.0.0.1 that forwards to one target at a limited rate in each
// direction, and can go silent (stop forwarding, connections left open) to imitate a partition.
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';

/** Options of ThrottleProxy.start(). */
export interface ThrottleProxyOptions {
  /** Where connections are forwarded (a csync daemon's port on 127.0.0.1). */
  readonly targetPort: number;
  /** Bytes per second forwarded per direction and connection. */
  readonly bytesPerSecond: number;
}

/**
 * A throttling proxy. Each chunk read from one side is written to the other after chunk/rate seconds,
 * with reading paused meanwhile, so TCP backpressure reaches the sender. close() destroys everything.
 */
export class ThrottleProxy {
  private listenPort = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly held: (() => void)[] = [];
  private silent = false;
  /** Bytes forwarded so far, both directions. */
  forwardedBytes = 0;

  private constructor(opts: ThrottleProxyOptions) {
    this.server = createServer((client) => this.accept(client, opts));
  }

  /** The port it listens on (127.0.0.1). */
  get port(): number {
    return this.listenPort;
  }

  /** Listens on 127.0.0.1, port 0. */
  static async start(opts: ThrottleProxyOptions): Promise<ThrottleProxy> {
    const proxy = new ThrottleProxy(opts);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const address = proxy.server.address();
    if (address === null || typeof address === 'string') throw new Error('bug: proxy has no port');
    proxy.listenPort = address.port;
    return proxy;
  }

  /** Stops forwarding in both directions; connections stay open and nothing is lost. */
  silence(): void {
    this.silent = true;
  }

  /** Forwards again, starting with what was held back. */
  resume(): void {
    this.silent = false;
    for (const go of this.held.splice(0)) go();
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.held.length = 0;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, opts: ThrottleProxyOptions): void {
    const upstream = connect({ host: '127.0.0.1', port: opts.targetPort });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      // Either side failing ends both (a reset reaches the other end as a close).
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    this.pump(client, upstream, opts.bytesPerSecond);
    this.pump(upstream, client, opts.bytesPerSecond);
  }

  private pump(from: Socket, to: Socket, bytesPerSecond: number): void {
    from.on('data', (chunk: Buffer) => {
      from.pause();
      const forward = (): void => {
        if (this.silent) {
          this.held.push(forward);
          return;
        }
        if (to.destroyed) return;
        this.forwardedBytes += chunk.length;
        to.write(chunk, () => {
          if (!this.silent) from.resume();
          else this.held.push(() => from.resume());
        });
      };
      setTimeout(forward, Math.ceil((chunk.length / bytesPerSecond) * 1000));
    });
  }
}
