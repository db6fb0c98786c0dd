// OfferReceiver (sync/receive.ts) on node "a" of MEMORY_TOML, receiving from peer "b" (and "c",
// which is receive_only): what it refuses, what it applies inline or streamed, and how it decides.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FileMeta, FileState, LogicalPath, VersionVector } from '../../../src/core/types.ts';
import { runCheck } from '../../../src/sync/check.ts';
import { PathLocks } from '../../../src/sync/path-locks.ts';
import { OfferBudget, OfferReceiver, TRANSFER_IDLE_TIMEOUT_MS } from '../../../src/sync/receive.ts';
import type { IncomingOffer } from '../../../src/sync/receive.ts';
import { allRootTargets } from '../../../src/sync/scope.ts';
import { memoryNode, T0_NS } from '../../helpers/fixtures.ts';
import type { MemoryNode } from '../../helpers/fixtures.ts';

const ROOT = '/data';
const SHARED = new Set(['g']);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
let nextId = 1;

/** An offer of a file `rel` holding `text` at `version`, as peer b would send it. */
function fileOffer(n: MemoryNode, rel: string, text: string, version: VersionVector, opts: { inline?: boolean; root?: string; group?: string } = {}): IncomingOffer {
  const bytes = enc(text);
  const meta: FileMeta = { kind: 'file', sizeBytes: bytes.length, mtimeNs: T0_NS, mode: 0o644, uid: 1000, gid: 1000, hash: n.ctx.hasher.hashBytes(bytes) };
  const state: FileState = { path: 'ignored-by-receiver' as LogicalPath, meta, version, origin: 'b', changedAtMs: 1 };
  return { id: nextId++, group: opts.group ?? 'g', root: opts.root ?? ROOT, rel, state, force: false, ...(opts.inline === false ? {} : { content: bytes }) };
}

async function setup(t: { after(fn: () => void): void }, peer = 'b'): Promise<{ n: MemoryNode; rx: OfferReceiver }> {
  const n = await memoryNode('a');
  t.after(() => n.close());
  const rx = new OfferReceiver(n.ctx, peer, SHARED, new PathLocks());
  t.after(() => rx.close());
  return { n, rx };
}

/** Names in a memory directory that look like csync temp files. */
const temps = (n: MemoryNode, dir: string): string[] => n.mem.readdir(dir).filter((name) => name.endsWith('.tmp'));
const mergeVec = (a: VersionVector, b: VersionVector): VersionVector => {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = Math.max(out[k] ?? 0, v);
  return out;
};
const lp = (rel: string): LogicalPath => `${ROOT}/${rel}` as LogicalPath;

describe('OfferReceiver refuses', () => {
  const rows: readonly { description: string; peer?: string; offer: (n: MemoryNode) => IncomingOffer; reason: RegExp }[] = [
    { description: "a rel path with '..'", offer: (n) => fileOffer(n, '../etc/passwd', 'x', { b: 1 }), reason: /'\.\.'/ },
    { description: 'an absolute rel path', offer: (n) => fileOffer(n, '/etc/passwd', 'x', { b: 1 }), reason: /absolute/ },
    { description: 'a root that is not an include of the group', offer: (n) => fileOffer(n, 'x', 'x', { b: 1 }, { root: '/etc' }), reason: /root "\/etc" is not an include/ },
    { description: 'a group not shared with the peer', offer: (n) => fileOffer(n, 'x', 'x', { b: 1 }, { group: 'other', root: '/other' }), reason: /group "other" is not shared/ },
    { description: 'a group this node does not know', offer: (n) => fileOffer(n, 'x', 'x', { b: 1 }, { group: 'nope' }), reason: /group "nope" is not shared/ },
    { description: 'an excluded path', offer: (n) => fileOffer(n, 'debug.log', 'x', { b: 1 }), reason: /excluded here/ },
    { description: 'an offer from a receive_only peer', peer: 'c', offer: (n) => fileOffer(n, 'x', 'x', { c: 1 }), reason: /peer "c" is receive_only/ },
  ];
  for (const row of rows) {
    it(row.description, async (t) => {
      const { n, rx } = await setup(t, row.peer);
      const out = await rx.receiveOffer(row.offer(n));
      assert.equal(out.result, 'rejected');
      assert.match(out.reason ?? '', row.reason);
      assert.deepEqual(n.mem.snapshot(ROOT), {}, 'nothing written');
      assert.deepEqual(n.store.list(), [], 'nothing recorded');
      assert.ok(n.logs.some((r) => r.level === 'warn' && r.msg === 'Rejected offer'));
    });
  }

  it('a write through a symlinked parent directory', async (t) => {
    const { n, rx } = await setup(t);
    n.mem.mkdirpSync('/elsewhere');
    n.mem.symlinkSync('/elsewhere', `${ROOT}/link`);
    const out = await rx.receiveOffer(fileOffer(n, 'link/evil.txt', 'pwned', { b: 1 }));
    assert.equal(out.result, 'rejected');
    assert.match(out.reason ?? '', /parent ".*\/link": is a symlink/);
    assert.deepEqual(n.mem.snapshot('/elsewhere'), {});
    assert.equal(n.store.get(lp('link/evil.txt')), undefined);
  });
});

describe('OfferReceiver confinement (attacks on the trust boundary)', () => {
  /** An offer of `rel` with another kind of entry (symlink or tombstone). */
  function kindOffer(rel: string, meta: FileMeta, version: VersionVector): IncomingOffer {
    const state: FileState = { path: 'ignored-by-receiver' as LogicalPath, meta, version, origin: 'b', changedAtMs: 1 };
    return { id: nextId++, group: 'g', root: ROOT, rel, state, force: true };
  }
  const link = (target: string): FileMeta => ({ kind: 'symlink', sizeBytes: 0, mtimeNs: T0_NS, mode: 0o777, uid: 1000, gid: 1000, target });
  const deleted: FileMeta = { kind: 'deleted', sizeBytes: 0, mtimeNs: 0n, mode: 0, uid: 0, gid: 0 };

  it('refuses the root offered as a symlink (forced), even when empty: the root stays a directory', async (t) => {
    const { n, rx } = await setup(t);
    n.mem.mkdirpSync('/outside');
    const out = await rx.receiveOffer(kindOffer('', link('/outside'), { b: 5 }));
    assert.equal(out.result, 'rejected');
    assert.match(out.reason ?? '', /a root is never replaced/);
    assert.equal(n.mem.lstat(ROOT)?.kind, 'dir');
    assert.ok(n.logs.some((r) => r.level === 'warn' && r.msg === 'Rejected offer' && r.fields['peer'] === 'b'));
  });

  it('refuses a deletion of the root', async (t) => {
    const { n, rx } = await setup(t);
    n.mem.writeFileSync(`${ROOT}/keep`, 'x');
    const out = await rx.receiveOffer(kindOffer('', deleted, { b: 5 }));
    assert.equal(out.result, 'rejected');
    assert.equal(n.mem.lstat(ROOT)?.kind, 'dir');
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/keep`)), 'x');
  });

  it('a deletion beneath a symlinked directory neither records nor touches the outside file (exfiltration)', async (t) => {
    const { n, rx } = await setup(t);
    n.mem.mkdirpSync('/secrets');
    n.mem.writeFileSync('/secrets/secret.txt', 'top secret');
    n.mem.symlinkSync('/secrets', `${ROOT}/exfil`);
    const out = await rx.receiveOffer(kindOffer('exfil/secret.txt', deleted, { b: 1 }));
    assert.equal(out.result, 'rejected');
    assert.equal(dec(n.mem.readFileSync('/secrets/secret.txt')), 'top secret');
    assert.equal(n.store.get(lp('exfil/secret.txt')), undefined, 'the outside file is never recorded as this node\'s');
    assert.deepEqual(n.store.dirtyPeers(lp('exfil/secret.txt')), []);
  });

  it('keeps a local edit made while a streamed file arrived, records it, and rejects so the sender re-offers', async (t) => {
    const { n, rx } = await setup(t);
    n.mem.writeFileSync(`${ROOT}/big.bin`, 'old');
    await runCheck(n.ctx, allRootTargets(n.ctx.view), { recursive: true, markAll: false, force: false, allowMassDelete: false, dryRun: false });
    const old = n.store.get(lp('big.bin'));
    assert.ok(old);
    const offer = fileOffer(n, 'big.bin', 'the new content', mergeVec(old.version, { b: 1 }), { inline: false });
    const first = await rx.receiveOffer(offer);
    assert.equal(first.result, 'need');
    n.mem.writeFileSync(`${ROOT}/big.bin`, 'edited locally meanwhile');
    const out = await rx.receiveData({ id: offer.id, offset: 0, last: true, bytes: enc('the new content') });
    assert.equal(out?.result, 'rejected');
    assert.match(out?.reason ?? '', /changed on this node/);
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/big.bin`)), 'edited locally meanwhile');
    assert.deepEqual(temps(n, ROOT), []);
    const now = n.store.get(lp('big.bin'));
    assert.equal(now?.meta.hash, n.ctx.hasher.hashBytes(enc('edited locally meanwhile')), 'the local edit is recorded');
    assert.ok(n.logs.some((r) => r.msg === 'Kept a local change made during the transfer'));
  });
});

describe('OfferReceiver applies', () => {
  it('a new file sent inline, creating its parents, and records it', async (t) => {
    const { n, rx } = await setup(t);
    const offer = fileOffer(n, 'sub/dir/new.txt', 'hello', { b: 1 });
    const out = await rx.receiveOffer(offer);
    assert.equal(out.result, 'applied');
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/sub/dir/new.txt`)), 'hello');
    assert.equal(n.mem.lstat(`${ROOT}/sub/dir/new.txt`)?.mtimeNs, T0_NS);
    const rec = n.store.get(lp('sub/dir/new.txt'));
    assert.deepEqual(rec?.version, { b: 1 });
    assert.equal(rec?.meta.hash, offer.state.meta.hash);
    assert.deepEqual(out.state, rec);
    assert.deepEqual(temps(n, `${ROOT}/sub/dir`), []);
  });

  it("answers 'need' for a file without content and applies it after the data frames", async (t) => {
    const { n, rx } = await setup(t);
    const offer = fileOffer(n, 'big.bin', 'first half|second half', { b: 1 }, { inline: false });
    assert.deepEqual(await rx.receiveOffer(offer), { result: 'need' });
    assert.equal(n.mem.lstat(`${ROOT}/big.bin`), undefined, 'nothing visible before the last frame');
    assert.equal(await rx.receiveData({ id: offer.id, offset: 0, last: false, bytes: enc('first half|') }), undefined);
    const out = await rx.receiveData({ id: offer.id, offset: 11, last: true, bytes: enc('second half') });
    assert.equal(out?.result, 'applied');
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/big.bin`)), 'first half|second half');
    assert.deepEqual(n.store.get(lp('big.bin'))?.version, { b: 1 });
    assert.deepEqual(temps(n, ROOT), []);
  });

  it('rejects a corrupted transfer (hash mismatch), leaving no file and no temp file', async (t) => {
    const { n, rx } = await setup(t);
    const offer = fileOffer(n, 'big.bin', 'the real content', { b: 1 }, { inline: false });
    assert.equal((await rx.receiveOffer(offer)).result, 'need');
    const out = await rx.receiveData({ id: offer.id, offset: 0, last: true, bytes: enc('the fake content') });
    assert.equal(out?.result, 'rejected');
    assert.match(out?.reason ?? '', /content hash mismatch/);
    assert.equal(n.mem.lstat(`${ROOT}/big.bin`), undefined);
    assert.deepEqual(temps(n, ROOT), []);
    assert.equal(n.store.get(lp('big.bin')), undefined);
  });

  it('rejects a transfer whose data frame arrives at the wrong offset, leaving no temp file', async (t) => {
    const { n, rx } = await setup(t);
    const offer = fileOffer(n, 'big.bin', 'abcdef', { b: 1 }, { inline: false });
    assert.equal((await rx.receiveOffer(offer)).result, 'need');
    const out = await rx.receiveData({ id: offer.id, offset: 3, last: true, bytes: enc('def') });
    assert.equal(out?.result, 'rejected');
    assert.match(out?.reason ?? '', /data at offset 3, expected 0/);
    assert.equal(n.mem.lstat(`${ROOT}/big.bin`), undefined);
    assert.deepEqual(temps(n, ROOT), []);
  });

  it('refuses a data frame past the declared size at once, before the last frame, leaving no temp file', async (t) => {
    const { n, rx } = await setup(t);
    const offer = fileOffer(n, 'big.bin', 'abcdef', { b: 1 }, { inline: false });
    assert.equal((await rx.receiveOffer(offer)).result, 'need');
    const out = await rx.receiveData({ id: offer.id, offset: 0, last: false, bytes: enc('abcdefgh') });
    assert.equal(out?.result, 'rejected');
    assert.match(out?.reason ?? '', /data up to byte 8 exceeds the offered size of 6 bytes/);
    assert.equal(n.mem.lstat(`${ROOT}/big.bin`), undefined);
    assert.deepEqual(temps(n, ROOT), []);
    assert.equal(await rx.receiveData({ id: offer.id, offset: 8, last: false, bytes: enc('more') }), undefined, 'later frames are dropped');
  });

  it('refuses an offer as busy when every per-daemon slot holds a transfer, and takes one again once a slot frees', async (t) => {
    const n = await memoryNode('a');
    t.after(() => n.close());
    const budget = new OfferBudget(1);
    const rx = new OfferReceiver(n.ctx, 'b', SHARED, new PathLocks(), {}, budget);
    const other = new OfferReceiver(n.ctx, 'b', SHARED, new PathLocks(), {}, budget);
    t.after(() => {
      rx.close();
      other.close();
    });
    const first = fileOffer(n, 'one.bin', 'abc', { b: 1 }, { inline: false });
    assert.equal((await rx.receiveOffer(first)).result, 'need');
    assert.equal(rx.inFlight, 1);
    const busy = await other.receiveOffer(fileOffer(n, 'two.bin', 'xyz', { b: 1 }));
    assert.equal(busy.result, 'rejected');
    assert.match(busy.reason ?? '', /receiver busy/);
    assert.equal((await rx.receiveData({ id: first.id, offset: 0, last: true, bytes: enc('abc') }))?.result, 'applied');
    await new Promise((resolve) => setImmediate(resolve)); // the slot is freed once the lock is released
    assert.equal(rx.inFlight, 0);
    assert.equal((await other.receiveOffer(fileOffer(n, 'two.bin', 'xyz', { b: 1 }))).result, 'applied');
  });

  it('abandons a transfer that goes idle, freeing the path for the next offer', async (t) => {
    const { n, rx } = await setup(t);
    const stalled = fileOffer(n, 'big.bin', 'abcdef', { b: 1 }, { inline: false });
    assert.equal((await rx.receiveOffer(stalled)).result, 'need');
    n.clock.advance(TRANSFER_IDLE_TIMEOUT_MS);
    const out = await rx.receiveOffer(fileOffer(n, 'big.bin', 'inline now', { b: 2 }));
    assert.equal(out.result, 'applied');
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/big.bin`)), 'inline now');
    assert.deepEqual(temps(n, ROOT), []);
  });

  it('rejects a corrupted inline offer without touching the existing file', async (t) => {
    const { n, rx } = await setup(t);
    await rx.receiveOffer(fileOffer(n, 'f.txt', 'v1', { b: 1 }));
    const bad = { ...fileOffer(n, 'f.txt', 'v2', { b: 2 }), content: enc('XX') };
    const out = await rx.receiveOffer(bad);
    assert.equal(out.result, 'rejected');
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/f.txt`)), 'v1');
    assert.deepEqual(n.store.get(lp('f.txt'))?.version, { b: 1 });
    assert.deepEqual(temps(n, ROOT), []);
  });
});

describe('OfferReceiver decides', () => {
  it("answers 'have' to an older offer and keeps the newer file", async (t) => {
    const { n, rx } = await setup(t);
    assert.equal((await rx.receiveOffer(fileOffer(n, 'f.txt', 'new', { b: 2 }))).result, 'applied');
    const out = await rx.receiveOffer(fileOffer(n, 'f.txt', 'old', { b: 1 }));
    assert.equal(out.result, 'have');
    assert.deepEqual(out.state?.version, { b: 2 });
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/f.txt`)), 'new');
  });

  it("answers 'conflict' to a concurrent different offer and records the conflict", async (t) => {
    const { n, rx } = await setup(t);
    n.mem.writeFileSync(`${ROOT}/f.txt`, 'mine');
    await runCheck(n.ctx, allRootTargets(n.ctx.view), { recursive: true, markAll: false, force: false, allowMassDelete: false, dryRun: false });
    assert.deepEqual(n.store.get(lp('f.txt'))?.version, { a: 1 });
    const offer = fileOffer(n, 'f.txt', 'theirs', { b: 1 });
    const out = await rx.receiveOffer(offer);
    assert.equal(out.result, 'conflict');
    assert.deepEqual(out.state?.version, { a: 1 });
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/f.txt`)), 'mine');
    const conflicts = n.store.listConflicts(lp('f.txt'));
    assert.equal(conflicts.length, 1);
    assert.equal(conflicts[0]?.peer, 'b');
    assert.deepEqual(conflicts[0]?.remote.version, { b: 1 });
    assert.equal(conflicts[0]?.remote.meta.hash, offer.state.meta.hash);
  });

  it('notices an unrecorded local edit before deciding: the offer conflicts instead of overwriting it', async (t) => {
    const { n, rx } = await setup(t);
    assert.equal((await rx.receiveOffer(fileOffer(n, 'f.txt', 'v1 from b', { b: 1 }))).result, 'applied');
    n.mem.writeFileSync(`${ROOT}/f.txt`, 'local edit, never checked');
    const out = await rx.receiveOffer(fileOffer(n, 'f.txt', 'v2 from b', { b: 2 }));
    assert.equal(out.result, 'conflict');
    assert.equal(dec(n.mem.readFileSync(`${ROOT}/f.txt`)), 'local edit, never checked');
    assert.deepEqual(n.store.get(lp('f.txt'))?.version, { a: 1, b: 1 }, 'the local edit was recorded as a change of a');
    assert.ok(n.store.listDirty('b').some((d) => d.path === lp('f.txt')), 'and is dirty for the peers');
  });

  it('merges a concurrent offer identical to the local file', async (t) => {
    const { n, rx } = await setup(t);
    n.mem.writeFileSync(`${ROOT}/f.txt`, 'same', { mtimeNs: T0_NS, mode: 0o644, uid: 1000, gid: 1000 });
    await runCheck(n.ctx, allRootTargets(n.ctx.view), { recursive: true, markAll: false, force: false, allowMassDelete: false, dryRun: false });
    const out = await rx.receiveOffer(fileOffer(n, 'f.txt', 'same', { b: 1 }));
    assert.equal(out.result, 'merged');
    assert.deepEqual(n.store.get(lp('f.txt'))?.version, { a: 1, b: 1 });
  });
});
