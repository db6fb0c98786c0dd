// Issue 11 item 2: a slow link delivers big files (the timeout is on idle, not on the whole
// transfer), and a link that goes silent is detected as idle without harming the daemon. The sender
// reaches the receiver through a throttling TCP proxy on 127.0.0.1; idle_timeout is 1 s.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { digest, FaultCluster, tempFileAppears, tempFiles, treeOf } from '../helpers/fault-cluster.ts';
import { ThrottleProxy } from '../helpers/throttle-proxy.ts';

const IDLE_TIMEOUT = '1s';
/** 3 MiB at 1 MiB/s: three times the idle timeout. */
const FILE_BYTES = 3 * 1024 * 1024;
const RATE_BYTES_PER_S = 1024 * 1024;

describe('a slow or silent link', { timeout: 90_000 }, () => {
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  async function setUp(): Promise<{ c: FaultCluster; proxy: ThrottleProxy }> {
    const c = await FaultCluster.create({ nodes: ['a', 'b'], top: `idle_timeout = "${IDLE_TIMEOUT}"` });
    closers.push(() => c.close());
    const proxy = await ThrottleProxy.start({ targetPort: c.ports.get('b') ?? 0, bytesPerSecond: RATE_BYTES_PER_S });
    closers.push(() => proxy.close());
    c.route('a', 'b', proxy.port);
    await c.spawn('b');
    await c.spawn('a');
    return { c, proxy };
  }

  it('delivers a file that takes three idle timeouts to cross the link', async () => {
    const { c, proxy } = await setUp();
    const content = randomBytes(FILE_BYTES);
    c.write('a', 'slow.bin', content);
    const t0 = Date.now();
    const pushed = await c.launch('a', '-x');
    const tookMs = Date.now() - t0;
    assert.equal(pushed.status, 0, pushed.out + pushed.err + c.describe('a'));
    assert.ok(tookMs > 2000, `the transfer crossed the throttled link (${tookMs} ms)`);
    assert.ok(proxy.forwardedBytes >= FILE_BYTES);
    assert.equal(treeOf(c.root('b')).get('/slow.bin'), digest(content));
    assert.ok(c.alive('a') && c.alive('b'));
  });

  it('detects a silent link as idle, keeps the entry dirty with the reason, and recovers when it speaks again', async () => {
    const { c, proxy } = await setUp();
    const content = randomBytes(FILE_BYTES);
    c.write('a', 'stalled.bin', content);
    // The link goes silent once the transfer has started on b.
    const landing = tempFileAppears(c.root('b'));
    const pushing = c.launch('a', '-x');
    await landing;
    proxy.silence();
    const first = await pushing;
    assert.notEqual(first.status, 0, 'a stalled transfer is not reported as delivered');
    assert.ok(c.alive('a') && c.alive('b'), c.describe('a') + c.describe('b'));
    const dirty = await c.launch('a', '-M', '-v');
    const row = dirty.out.split('\n').find((l) => l.includes('stalled.bin')) ?? '';
    assert.match(row, /no bytes moved|link closed/, `the reason is recorded: ${dirty.out}`);

    // Traffic flows again: the next update goes through on a new link.
    proxy.resume();
    const second = await c.launch('a', '-u');
    assert.equal(second.status, 0, second.out + second.err);
    assert.equal(treeOf(c.root('b')).get('/stalled.bin'), digest(content));
    assert.deepEqual(tempFiles(c.root('b')), [], 'the abandoned transfer was cleaned up');
    assert.ok(c.alive('a') && c.alive('b'));
  });
});
