// The daemon's JSON log lines (daemon/log.ts): one key once per line, even when a call repeats a
// field a child logger bound (some log shippers reject a duplicate key).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { makeDaemonLogger } from '../../../src/daemon/log.ts';

/** The keys of each top-level JSON object in `text`, in order, duplicates kept (JSON.parse drops them). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && line[j + 1] === ':') keys.push(JSON.parse(line.slice(i, j + 1)) as string);
      i = j;
    } else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
  }
  return keys;
}

describe('daemon log lines', () => {
  it('write a field bound by a child logger once, and keep a different value of it under <key>Given', async () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (b: Buffer) => chunks.push(b.toString('utf8')));
    const log = await makeDaemonLogger({ level: 'info', pretty: false, stream });
    const link = log.child({ node: 'a' }).child({ peer: 'b' });
    link.info({ node: 'a', peer: 'b', id: 7 }, 'Same values again');
    link.warn({ peer: 'c' }, 'Another peer named by the call');
    await new Promise((r) => setImmediate(r));
    const lines = chunks.join('').trim().split('\n');
    assert.equal(lines.length, 2);
    for (const line of lines) {
      const keys = topLevelKeys(line);
      assert.deepEqual(keys, [...new Set(keys)], `no key twice: ${line}`);
    }
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(first?.peer, 'b');
    assert.equal(first?.id, 7);
    assert.equal(second?.peer, 'b');
    assert.equal(second?.peerGiven, 'c');
  });
});
