// `csync -T` on MemoryFileSystem nodes: what a digest covers (content, mode, file mtime; not versions,
// not directory mtimes), X / L / R found top-down, list-reply framing, and the bytes on the wire.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CsyncError } from '../../../src/core/errors.ts';
import type { IgnoredAttr, LogicalPath, RelPath } from '../../../src/core/types.ts';
import { memoryTransportPair } from '../../../src/net/memory-transport.ts';
import type { Transport } from '../../../src/net/transport.ts';
import { decodeMessage, encodeMessage, MAX_FRAME_BYTES, MAX_LIST_ENTRIES, toWireState } from '../../../src/protocol/messages.ts';
import { openListChannel, splitEntries } from '../../../src/daemon/compare-link.ts';
import { servePeer } from '../../../src/daemon/peers.ts';
import { digestTree, runCompare } from '../../../src/sync/compare.ts';
import type { CompareReport, DigestTree } from '../../../src/sync/compare.ts';
import { allRootTargets, targetsForUserPath } from '../../../src/sync/scope.ts';
import type { Target } from '../../../src/sync/scope.ts';
import { ROOT, SimCluster, simFingerprint } from '../../helpers/sim.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const T0 = 1_700_000_000_000_000_000n;

/** Wraps a transport to count the bytes of every frame body in both directions. */
function counting(t: Transport, count: { bytes: number }): Transport {
  return {
    remoteLabel: t.remoteLabel,
    send: (f) => {
      count.bytes += f.length;
      return t.send(f);
    },
    frames: async function* () {
      for await (const f of t.frames()) {
        count.bytes += f.length;
        yield f;
      }
    },
    keyingMaterial: () => t.keyingMaterial(),
    peerFingerprint: () => t.peerFingerprint(),
    peerAuthenticated: () => t.peerAuthenticated(),
    close: () => t.close(),
  };
}

/** Runs `csync -T` on `from` against `peers` (unknown peers are unreachable) over memory transports. */
async function compare(sim: SimCluster, from: string, peers: string[], opts: { count?: { bytes: number }; targets?: Target[] } = {}): Promise<CompareReport[]> {
  const a = sim.node(from);
  return runCompare(a.rt.ctx, {
    targets: opts.targets ?? allRootTargets(a.rt.view),
    peers,
    connect: async (peer) => {
      if (!sim.nodes.has(peer)) throw new CsyncError('CSYNC_PEER_UNREACHABLE', `peer ${JSON.stringify(peer)}: connection refused`);
      const [ta, tb] = memoryTransportPair({ fingerprints: [simFingerprint(peer), simFingerprint(from)] });
      const b = sim.node(peer);
      void servePeer(b.rt, tb, b.locks);
      return openListChannel(a.rt, opts.count ? counting(ta, opts.count) : ta, peer);
    },
  });
}

const lines = (reports: CompareReport[]): string[] => reports.flatMap((r) => r.differences.map((d) => `${d.kind} ${d.peer} ${d.path}`));

/** Checks node `n` and digests its root (with `ignore` in place of the group's list, if given). */
async function treeOf(sim: SimCluster, n: string, ignore?: IgnoredAttr[]): Promise<DigestTree> {
  await sim.check(n);
  const { ctx, view } = sim.node(n).rt;
  const [t] = allRootTargets(view);
  assert.ok(t);
  const group = ignore ? { ...t.group, config: { ...t.group.config, ignore } } : t.group;
  return digestTree(ctx, { ...t, group }, ctx.hasher);
}

const digestOf = (tree: DigestTree, rel: string): string | undefined => tree.get(rel)?.digest;

/** The same small tree on every named node, written independently (so each has its own history). */
function plant(sim: SimCluster, nodes: string[]): void {
  for (const n of nodes) {
    const fs = sim.node(n).fs;
    fs.mkdirpSync(`${ROOT}/etc/nginx`);
    fs.mkdirpSync(`${ROOT}/www`);
    fs.writeFileSync(`${ROOT}/etc/nginx/nginx.conf`, enc('worker_processes 4;\n'), { mtimeNs: T0, mode: 0o644 });
    fs.writeFileSync(`${ROOT}/etc/hosts`, enc('127.0.0.1 localhost\n'), { mtimeNs: T0, mode: 0o644 });
    fs.writeFileSync(`${ROOT}/www/index.html`, enc('<h1>hi</h1>\n'), { mtimeNs: T0, mode: 0o644 });
    for (const d of [ROOT, `${ROOT}/etc`, `${ROOT}/etc/nginx`, `${ROOT}/www`]) fs.setMetaSync(d, { mode: 0o755 });
  }
}

describe('digests', () => {
  it('are equal on two nodes with the same files but different histories (versions are not compared)', async (t) => {
    const sim = await SimCluster.create({ nodes: ['a', 'b'], policy: 'none' });
    t.after(() => sim.close());
    plant(sim, ['a', 'b']);
    const a = await treeOf(sim, 'a');
    const b = await treeOf(sim, 'b');
    assert.deepEqual(a.get('etc/hosts')?.state.version, { a: 1 });
    assert.deepEqual(b.get('etc/hosts')?.state.version, { b: 1 });
    assert.match(digestOf(a, '') ?? '', /^[0-9a-f]{16}$/);
    assert.equal(digestOf(a, ''), digestOf(b, ''));
    assert.equal(digestOf(await treeOf(sim, 'a'), ''), digestOf(a, ''), 'a second check and digest give the same result');
    assert.deepEqual(a.children('etc').map((e) => e.rel), ['etc/hosts', 'etc/nginx']);
  });

  it('change with a file\'s content, and so do its ancestors\' digests, but not its siblings\'', async (t) => {
    const sim = await SimCluster.create({ nodes: ['a', 'b'], policy: 'none' });
    t.after(() => sim.close());
    plant(sim, ['a']);
    const before = await treeOf(sim, 'a');
    sim.node('a').fs.writeFileSync(`${ROOT}/etc/nginx/nginx.conf`, enc('worker_processes 16;\n'), { mtimeNs: T0, mode: 0o644 });
    const after = await treeOf(sim, 'a');
    for (const rel of ['', 'etc', 'etc/nginx', 'etc/nginx/nginx.conf']) assert.notEqual(digestOf(after, rel), digestOf(before, rel), rel);
    for (const rel of ['www', 'www/index.html', 'etc/hosts']) assert.equal(digestOf(after, rel), digestOf(before, rel), rel);
  });

  it('change with a file\'s mode and mtime, unless the group ignores the mode', async (t) => {
    const sim = await SimCluster.create({ nodes: ['a', 'b'], policy: 'none' });
    t.after(() => sim.close());
    plant(sim, ['a']);
    const fs = sim.node('a').fs;
    const before = await treeOf(sim, 'a');
    const beforeIgnoring = await treeOf(sim, 'a', ['mode']);
    fs.setMetaSync(`${ROOT}/www/index.html`, { mode: 0o600 });
    assert.notEqual(digestOf(await treeOf(sim, 'a'), 'www/index.html'), digestOf(before, 'www/index.html'));
    assert.equal(digestOf(await treeOf(sim, 'a', ['mode']), ''), digestOf(beforeIgnoring, ''));
    fs.setMetaSync(`${ROOT}/www/index.html`, { mode: 0o644, mtimeNs: T0 + 1_000n });
    assert.notEqual(digestOf(await treeOf(sim, 'a'), 'www/index.html'), digestOf(before, 'www/index.html'), 'an mtime 1 µs later');
    fs.setMetaSync(`${ROOT}/www/index.html`, { mtimeNs: T0 });
    assert.equal(digestOf(await treeOf(sim, 'a'), ''), digestOf(before, ''), 'back as before');
  });

  it('do not change with a directory\'s mtime, but do with its mode', async (t) => {
    const sim = await SimCluster.create({ nodes: ['a', 'b'], policy: 'none' });
    t.after(() => sim.close());
    plant(sim, ['a', 'b']);
    sim.node('b').fs.setMetaSync(`${ROOT}/etc`, { mtimeNs: T0 + 86_400_000_000_000n });
    const a = await treeOf(sim, 'a');
    const b = await treeOf(sim, 'b');
    assert.notEqual(b.get('etc')?.state.meta.mtimeNs, a.get('etc')?.state.meta.mtimeNs, 'the recorded mtimes differ');
    assert.equal(digestOf(b, ''), digestOf(a, ''));
    sim.node('b').fs.setMetaSync(`${ROOT}/etc`, { mode: 0o700 });
    assert.notEqual(digestOf(await treeOf(sim, 'b'), 'etc'), digestOf(a, 'etc'));
  });

  it('of a subtree equal the same entries\' digests in the whole root', async (t) => {
    const sim = await SimCluster.create({ nodes: ['a', 'b'], policy: 'none' });
    t.after(() => sim.close());
    plant(sim, ['a']);
    const whole = await treeOf(sim, 'a');
    const { ctx, view } = sim.node('a').rt;
    const [root] = allRootTargets(view);
    assert.ok(root);
    const sub = digestTree(ctx, { ...root, rel: 'etc' as RelPath }, ctx.hasher);
    assert.equal(digestOf(sub, 'etc'), digestOf(whole, 'etc'));
    assert.equal(sub.get('www'), undefined);
  });
});

describe('runCompare', () => {
  it('finds nothing when in sync, then X for an edited file, L for one only here, R for one only there', async (t) => {
    const sim = await SimCluster.create({ nodes: ['a', 'b'], policy: 'none' });
    t.after(() => sim.close());
    plant(sim, ['a', 'b']);
    assert.deepEqual(lines(await compare(sim, 'a', ['b'])), []);
    sim.node('b').fs.writeFileSync(`${ROOT}/etc/nginx/nginx.conf`, enc('edited on b by hand\n'), { mtimeNs: T0 + 5n * 1_000_000_000n });
    sim.node('a').fs.writeFileSync(`${ROOT}/www/mine.html`, enc('only on a'));
    sim.node('b').fs.writeFileSync(`${ROOT}/etc/theirs`, enc('only on b'));
    assert.deepEqual(lines(await compare(sim, 'a', ['b'])), ['X b /data/etc/nginx/nginx.conf', 'R b /data/etc/theirs', 'L b /data/www/mine.html']);
    assert.deepEqual([sim.dirty('a'), sim.dirty('b'), sim.node('b').rt.store.list().length], [0, 0, 0], 'a comparison records nothing on either side');
  });

  it('names a directory only one side has once, and a directory whose own mode differs as X', async (t) => {
    const sim = await SimCluster.create({ nodes: ['a', 'b'], policy: 'none' });
    t.after(() => sim.close());
    plant(sim, ['a', 'b']);
    const b = sim.node('b').fs;
    b.mkdirpSync(`${ROOT}/var/lib/app`);
    b.writeFileSync(`${ROOT}/var/lib/app/db`, enc('x'));
    b.setMetaSync(`${ROOT}/etc`, { mode: 0o700 });
    b.writeFileSync(`${ROOT}/etc/hosts`, enc('10.0.0.1 db\n'), { mtimeNs: T0, mode: 0o644 });
    assert.deepEqual(lines(await compare(sim, 'a', ['b'])), ['X b /data/etc', 'X b /data/etc/hosts', 'R b /data/var']);
  });

  it('compares only the subtree of PATH', async (t) => {
    const sim = await SimCluster.create({ nodes: ['a', 'b'], policy: 'none' });
    t.after(() => sim.close());
    plant(sim, ['a', 'b']);
    sim.node('b').fs.writeFileSync(`${ROOT}/www/index.html`, enc('changed'), { mtimeNs: T0 });
    sim.node('b').fs.writeFileSync(`${ROOT}/etc/extra`, enc('extra'), { mtimeNs: T0 });
    const a = sim.node('a').rt;
    const www = await compare(sim, 'a', ['b'], { targets: targetsForUserPath(a.view, `${ROOT}/www`) });
    assert.deepEqual(lines(www), ['X b /data/www/index.html']);
    const file = await compare(sim, 'a', ['b'], { targets: targetsForUserPath(a.view, `${ROOT}/etc/extra`) });
    assert.deepEqual(lines(file), ['R b /data/etc/extra']);
  });

  it('reports an unreachable peer as an error and still compares with the others', async (t) => {
    const sim = await SimCluster.create({ nodes: ['a', 'b'], policy: 'none' });
    t.after(() => sim.close());
    plant(sim, ['a', 'b']);
    sim.node('b').fs.writeFileSync(`${ROOT}/only-b`, enc('b'));
    const reports = await compare(sim, 'a', ['b', 'gone']);
    assert.deepEqual(lines(reports), ['R b /data/only-b']);
    const gone = reports.find((r) => r.peer === 'gone');
    assert.ok(gone?.error instanceof CsyncError);
    assert.equal(gone.error.code, 'CSYNC_PEER_UNREACHABLE');
  });

  it('does not call an emptied root in sync: the check\'s mass-delete halt is an error, here and on the peer', async (t) => {
    const sim = await SimCluster.create({ nodes: ['a', 'b'], policy: 'none' });
    t.after(() => sim.close());
    plant(sim, ['a', 'b']);
    await sim.check('a');
    await sim.check('b');
    assert.deepEqual(lines(await compare(sim, 'a', ['b'])), []);
    const emptied = async (n: string): Promise<void> => {
      const fs = sim.node(n).fs;
      for (const f of ['etc/nginx/nginx.conf', 'etc/hosts', 'www/index.html']) await fs.unlink(`${ROOT}/${f}`);
      for (const d of ['etc/nginx', 'etc', 'www']) await fs.rmdir(`${ROOT}/${d}`);
    };
    await emptied('b');
    const [r] = await compare(sim, 'a', ['b']);
    assert.equal((r?.error as CsyncError | undefined)?.code, 'CSYNC_SYNC_HALTED_FOR_SAFETY', String(r?.error));
    await emptied('a');
    await assert.rejects(compare(sim, 'a', ['b']), { code: 'CSYNC_SYNC_HALTED_FOR_SAFETY' });
  });
});

describe('bytes on the wire', () => {
  /** 20 directories × 10 subdirectories × 100 files = 20,000 files (and 221 directories). */
  function plantBig(sim: SimCluster, n: string): void {
    const fs = sim.node(n).fs;
    fs.setMetaSync(ROOT, { mode: 0o755 });
    for (let d = 0; d < 20; d++) {
      for (let s = 0; s < 10; s++) {
        const dir = `${ROOT}/d${d}/s${s}`;
        fs.mkdirpSync(dir);
        for (let f = 0; f < 100; f++) fs.writeFileSync(`${dir}/f${f}`, enc(`file ${d}/${s}/${f}`), { mtimeNs: T0, mode: 0o644 });
        fs.setMetaSync(dir, { mode: 0o755 });
      }
      fs.setMetaSync(`${ROOT}/d${d}`, { mode: 0o755 });
    }
  }

  it('stay under 16 KiB for an in-sync tree of 20,000 files, and list only the directories on a difference\'s path', async (t) => {
    const sim = await SimCluster.create({ nodes: ['a', 'b'], policy: 'none' });
    t.after(() => sim.close());
    plantBig(sim, 'a');
    plantBig(sim, 'b');
    const inSync = { bytes: 0 };
    assert.deepEqual(lines(await compare(sim, 'a', ['b'], { count: inSync })), []);
    t.diagnostic(`in-sync 20,000-file tree: ${inSync.bytes} bytes on the wire`);
    assert.ok(inSync.bytes < 16 * 1024, `${inSync.bytes} bytes`);
    sim.node('b').fs.writeFileSync(`${ROOT}/d7/s3/f42`, enc('edited'), { mtimeNs: T0 });
    const oneDiff = { bytes: 0 };
    assert.deepEqual(lines(await compare(sim, 'a', ['b'], { count: oneDiff })), ['X b /data/d7/s3/f42']);
    t.diagnostic(`one difference in 20,000 files: ${oneDiff.bytes} bytes on the wire`);
    // The root, d7 and d7/s3 are listed: 20 + 10 + 100 entries, never the other 19,900 files.
    assert.ok(oneDiff.bytes < 64 * 1024, `${oneDiff.bytes} bytes`);
  });
});

describe('splitEntries (list-reply framing)', () => {
  const state = toWireState({
    path: '/data/x' as LogicalPath,
    meta: { kind: 'file', sizeBytes: 1, mtimeNs: T0, mode: 0o644, uid: 0, gid: 0, hash: '0123456789abcdef' },
    version: { a: 1 },
    origin: 'a',
    changedAtMs: 0,
  });

  it('keeps at most MAX_LIST_ENTRIES per frame and always sends one frame', () => {
    const many = Array.from({ length: 2500 }, (_, i) => ({ rel: `f${i}`, state, digest: '0123456789abcdef' }));
    assert.deepEqual(splitEntries(many).map((p) => p.length), [MAX_LIST_ENTRIES, MAX_LIST_ENTRIES, 500]);
    assert.deepEqual(splitEntries([]), [[]]);
  });

  it('splits by encoded size, so entries with long paths and wide version vectors fit in frames', () => {
    const version = Object.fromEntries(Array.from({ length: 1024 }, (_, i) => [`node-with-a-rather-long-name-${i}`, 1_000_000 + i]));
    const big = Array.from({ length: 400 }, (_, i) => ({ rel: `${'d'.repeat(4000)}/f${i}`, state: { ...state, version }, digest: '0123456789abcdef' }));
    const parts = splitEntries(big);
    assert.ok(parts.length > 1, 'one frame would be far above MAX_FRAME_BYTES');
    assert.equal(parts.flat().length, 400);
    for (const entries of parts) {
      const body = encodeMessage({ type: 'list-reply', id: 1, entries, done: false });
      assert.ok(body.length <= MAX_FRAME_BYTES, `${body.length} bytes`);
      assert.equal(decodeMessage(body).type, 'list-reply');
    }
  });
});
