// Issue 10 item 7, small items: the start-up temp sweep removes only csync's own temp names, and a
// version counter near 2^53 from a peer is refused with a clear reason, while one at the limit is
// stored and read back exactly (before, a counter of 2^53 - 1 made the row unreadable after a bump).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CsyncError } from '../../src/core/errors.ts';
import type { FileState, LogicalPath } from '../../src/core/types.ts';
import { bumpVersion, formatVersion, MAX_VERSION_COUNTER, mergeVersions } from '../../src/core/version.ts';
import { NodeFileSystem } from '../../src/fs/node-fs.ts';
import { decodeMessage, encodeMessage, fromWireState } from '../../src/protocol/messages.ts';
import type { WireState } from '../../src/protocol/messages.ts';
import { SqliteStateStore } from '../../src/store/sqlite-store.ts';
import { isReceiverTempName, sweepTempFiles } from '../../src/sync/sweep.ts';

const TMP = mkdtempSync(join(tmpdir(), 'csync-small-items-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

describe('the start-up temp sweep', () => {
  it('removes csync temp files and leaves every look-alike user file', async () => {
    const root = join(TMP, 'root');
    mkdirSync(join(root, 'd'), { recursive: true });
    const ours = ['.a.txt.csync-0123abcd1.tmp', 'd/.b.csync-deadbeefzik0zj.tmp'];
    const lookAlikes = [
      '.notes.csync-old.tmp', // a word, not <8 hex><counter>
      '.x.csync-1.tmp', // too short
      '.x.csync-0123ABCD1.tmp', // upper-case hex
      '.x.csync-0123abcd1234567.tmp', // counter longer than 6 base-36 digits
      '.x.csync-0123abcd1.tmp.bak',
      'x.csync-0123abcd1.tmp', // no leading dot
      '.x.csync-restore.tmp', // a `csync restore` in progress
      'd/.csync-0123abcd1.tmp', // no name
    ];
    for (const rel of [...ours, ...lookAlikes]) writeFileSync(join(root, rel), 'user data');
    mkdirSync(join(root, '.dir.csync-0123abcd2.tmp'));
    writeFileSync(join(root, '.dir.csync-0123abcd2.tmp', 'inside'), 'user data'); // not empty: not ours

    const removed = await sweepTempFiles(new NodeFileSystem(), [root]);

    assert.deepEqual(removed.map((p) => p.slice(root.length + 1)).sort(), [...ours].sort());
    const left = readdirSync(root, { recursive: true }).map(String).sort();
    for (const rel of [...lookAlikes, '.dir.csync-0123abcd2.tmp/inside']) assert.ok(left.includes(rel), `${rel} was kept`);
  });

  it('matches the names NodeFileSystem really gives its temp files', async () => {
    const dir = join(TMP, 'real');
    mkdirSync(dir);
    const w = await new NodeFileSystem().beginWrite(join(dir, 'f.txt'));
    const names = readdirSync(dir);
    await w.abort();
    assert.equal(names.length, 1);
    assert.ok(isReceiverTempName(names[0] ?? ''), `${String(names[0])} is recognised`);
  });
});

describe('a version counter near 2^53 from a peer', () => {
  const wire = (counter: number): WireState => ({
    kind: 'file', size: 1, mtimeNs: '1', mode: 0o644, uid: 0, gid: 0, hash: '0123456789abcdef',
    version: { a: counter }, origin: 'b', changedAtMs: 1,
  });
  const offer = (counter: number): Uint8Array =>
    encodeMessage({ type: 'offer', id: 1, group: 'g', root: '/r', rel: 'f', state: wire(counter), force: false });

  for (const counter of [Number.MAX_SAFE_INTEGER, MAX_VERSION_COUNTER + 1]) {
    it(`is refused at validation with a clear reason (${counter})`, () => {
      assert.throws(() => decodeMessage(offer(counter)), (err: unknown) =>
        err instanceof CsyncError && err.code === 'CSYNC_PROTO_INVALID_MESSAGE'
        && err.message === `invalid message: "offer".state.version counter must be an integer from 1 to ${MAX_VERSION_COUNTER}`);
    });
  }

  it('at the limit, is stored and read back exactly, also after local bumps and a reopen', () => {
    const msg = decodeMessage(offer(MAX_VERSION_COUNTER));
    assert.ok(msg.type === 'offer');
    const incoming = fromWireState('/r/f' as LogicalPath, msg.state);
    // The peer named this node ("a") in its vector: every local change bumps that counter further.
    let version = mergeVersions({ a: 1 }, incoming.version);
    for (let i = 0; i < 3; i++) version = bumpVersion(version, 'a');
    const state: FileState = { ...incoming, version };
    const file = join(TMP, 'state.db');
    const store = SqliteStateStore.open(file);
    store.put(state);
    assert.deepEqual(store.get(state.path)?.version, { a: MAX_VERSION_COUNTER + 3 });
    store.close();
    const again = SqliteStateStore.open(file);
    assert.deepEqual(again.get(state.path)?.version, { a: MAX_VERSION_COUNTER + 3 });
    again.close();
  });

  it('is never written as text that cannot be read back', () => {
    assert.throws(() => formatVersion({ a: 2 ** 53 }), /^Error: bug: version counter 9007199254740992/);
  });
});
