// Tests the key-path → line index used to put line numbers on semantic config issues.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { indexKeyLines, lineOf, splitTomlKey } from '../../../src/config/locate.ts';

const TEXT = [
  'port = 1', //                1
  '[groups."my.group"]', //     2
  'hosts = [', //               3
  '  "a",', //                  4
  ']', //                       5
  'note = """', //              6
  'x = not a key', //           7
  '"""', //                     8
  '[[groups."my.group".actions]]', // 9
  'exec = "a"', //             10
  '[[groups."my.group".actions]]', // 11
  'exec = "b"', //             12
].join('\n');

describe('indexKeyLines and lineOf', () => {
  const index = indexKeyLines(TEXT);
  it('finds top-level keys, quoted table names and array-of-table entries', () => {
    assert.equal(lineOf(index, 'port'), 1);
    assert.equal(lineOf(index, 'groups.my.group.hosts'), 3);
    assert.equal(lineOf(index, 'groups.my.group.actions[1].exec'), 12);
  });
  it('falls back to the nearest ancestor', () => {
    assert.equal(lineOf(index, 'groups.my.group.hosts[0]'), 3);
    assert.equal(lineOf(index, 'groups.my.group.actions[0].timeout'), 9);
    assert.equal(lineOf(index, 'nothing.here'), undefined);
  });
  it('ignores key-like lines inside multi-line strings', () => {
    assert.equal(index.has('groups.my.group.x'), false);
  });
});

describe('splitTomlKey', () => {
  it('unquotes quoted parts and splits on dots', () => {
    assert.deepEqual(splitTomlKey('a."b.c" . d'), ['a', 'b.c', 'd']);
  });
});
