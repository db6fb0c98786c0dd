// Block delta (sync/delta.ts): block sizes, changed-block selection and reconstruction on a
// memory filesystem, for in-place changes, growth, shrinkage and malformed block streams.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../../src/fs/memory-fs.ts';
import { loadHasher } from '../../../src/scanner/hasher.ts';
import { CsyncError } from '../../../src/core/errors.ts';
import { blockSignatures, changedBlocks, deltaSignatures, pickBlockBytes, reconstruct } from '../../../src/sync/delta.ts';
import type { DeltaBlock } from '../../../src/sync/delta.ts';

const KIB = 1024;
const MIB = 1024 * KIB;
const hasher = await loadHasher();

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** Sends `next` to a receiver holding `old`; returns the rebuilt content and the bytes sent. */
async function roundTrip(old: Uint8Array, next: Uint8Array): Promise<{ rebuilt: Uint8Array; sent: number }> {
  const rx = new MemoryFileSystem();
  const tx = new MemoryFileSystem();
  rx.writeFileSync('/f', old);
  tx.writeFileSync('/f', next);
  const sig = await deltaSignatures(rx, hasher, '/f', next.length);
  assert.ok(sig, 'a large old file gives block hashes');
  const blocks = await collect(changedBlocks(tx, hasher, '/f', sig));
  const rebuilt = concat(await collect(reconstruct(rx, '/f', next.length, (async function* () {
    yield* blocks;
  })())));
  return { rebuilt, sent: blocks.reduce((n, b) => n + b.bytes.length, 0) };
}

describe('pickBlockBytes', () => {
  const rows = [
    { description: '1 MiB file: the 64 KiB minimum', size: MIB, expected: 64 * KIB },
    { description: '1 GiB file: 128 KiB blocks (8,192 of them)', size: 1024 * MIB, expected: 128 * KIB },
    { description: '64 GiB file: capped at 1 MiB blocks', size: 64 * 1024 * MIB, expected: MIB },
  ];
  for (const r of rows) it(r.description, () => assert.equal(pickBlockBytes(r.size), r.expected));
});

describe('delta round trip', () => {
  it('sends only the blocks around a change in the middle and rebuilds the exact content', async () => {
    const old = bytes(4 * MIB, 1);
    const next = old.slice();
    next.set(bytes(100 * KIB, 2), 2 * MIB + 10 * KIB);
    const { rebuilt, sent } = await roundTrip(old, next);
    assert.deepEqual(rebuilt, next);
    assert.equal(sent, 2 * 64 * KIB, 'the change spans two 64 KiB blocks');
  });

  it('sends nothing for an unchanged file', async () => {
    const old = bytes(MIB, 3);
    const { rebuilt, sent } = await roundTrip(old, old.slice());
    assert.equal(sent, 0);
    assert.deepEqual(rebuilt, old);
  });

  it('handles growth (new tail blocks sent) and shrinkage (old tail dropped)', async () => {
    const old = bytes(MIB, 4);
    const grown = concat([old, bytes(70 * KIB, 5)]);
    const g = await roundTrip(old, grown);
    assert.deepEqual(g.rebuilt, grown);
    assert.ok(g.sent <= 2 * 64 * KIB);
    const shrunk = old.slice(0, 600 * KIB);
    const s = await roundTrip(old, shrunk);
    assert.deepEqual(s.rebuilt, shrunk);
    assert.ok(s.sent <= 64 * KIB, 'only the new partial last block');
  });

  it('asks for no delta when the old file is small or not a file', async () => {
    const fs = new MemoryFileSystem();
    fs.writeFileSync('/small', bytes(100 * KIB, 6));
    fs.mkdirpSync('/dir');
    assert.equal(await deltaSignatures(fs, hasher, '/small', MIB), undefined);
    assert.equal(await deltaSignatures(fs, hasher, '/dir', MIB), undefined);
    assert.equal(await deltaSignatures(fs, hasher, '/missing', MIB), undefined);
  });

  it('refuses blocks out of order or past the new size (a malicious or broken sender)', async () => {
    const fs = new MemoryFileSystem();
    fs.writeFileSync('/f', bytes(MIB, 7));
    const feed = (blocks: DeltaBlock[]) => (async function* () {
      yield* blocks;
    })();
    const b = (offset: number): DeltaBlock => ({ offset, bytes: new Uint8Array(10) });
    await assert.rejects(collect(reconstruct(fs, '/f', MIB, feed([b(500), b(100)]))), (e: unknown) => e instanceof CsyncError && e.code === 'CSYNC_PROTO_INVALID_MESSAGE');
    await assert.rejects(collect(reconstruct(fs, '/f', MIB, feed([b(MIB - 5)]))), (e: unknown) => e instanceof CsyncError && e.code === 'CSYNC_PROTO_INVALID_MESSAGE');
  });

  it('hashes one block per 8 bytes of signature', async () => {
    const fs = new MemoryFileSystem();
    fs.writeFileSync('/f', bytes(MIB + 1, 8));
    const sig = await blockSignatures(fs, hasher, '/f', 64 * KIB);
    assert.equal(sig.hashes.length, 17 * 8);
  });
});
