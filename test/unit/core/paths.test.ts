// Table tests of path confinement (core/paths.ts): what toRelPath accepts, rejects and normalises.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CsyncError } from '../../../src/core/errors.ts';
import { ancestorsRel, childRel, MAX_REL_PATH_LENGTH, parentRel, toRelPath } from '../../../src/core/paths.ts';
import type { RelPath } from '../../../src/core/types.ts';

const rel = (s: string): RelPath => s as RelPath;
const isUnsafe = (err: unknown): boolean => err instanceof CsyncError && err.code === 'CSYNC_PATH_UNSAFE' && err.hint !== undefined;

describe('toRelPath accepts', () => {
  const rows: readonly { description: string; raw: string; expected: string }[] = [
    { description: 'the empty string as the root', raw: '', expected: '' },
    { description: 'a single name', raw: 'index.html', expected: 'index.html' },
    { description: 'a nested path', raw: 'a/b/c.txt', expected: 'a/b/c.txt' },
    { description: 'a trailing slash, stripped', raw: 'a/b/', expected: 'a/b' },
    { description: 'a trailing slash on a single name', raw: 'x/', expected: 'x' },
    { description: 'dot-files and names containing dots', raw: '.htaccess/..a/a..', expected: '.htaccess/..a/a..' },
    { description: 'spaces and unicode', raw: 'my docs/résumé ✓.txt', expected: 'my docs/résumé ✓.txt' },
    { description: 'a component of exactly 255 bytes', raw: `d/${'x'.repeat(255)}`, expected: `d/${'x'.repeat(255)}` },
  ];
  for (const row of rows) {
    it(row.description, () => {
      assert.equal(toRelPath(row.raw), row.expected);
    });
  }
});

describe('toRelPath rejects with CSYNC_PATH_UNSAFE', () => {
  const rows: readonly { description: string; raw: string; why: RegExp }[] = [
    { description: "a '..' component", raw: '../etc/passwd', why: /'\.\.'/ },
    { description: "a '..' in the middle", raw: 'a/../../b', why: /'\.\.'/ },
    { description: "a bare '..'", raw: '..', why: /'\.\.'/ },
    { description: "a '.' component", raw: 'a/./b', why: /'\.'/ },
    { description: 'an absolute path', raw: '/etc/passwd', why: /absolute/ },
    { description: 'the bare root slash', raw: '/', why: /absolute/ },
    { description: 'a NUL byte', raw: 'a\u0000b', why: /NUL or a control character/ },
    { description: 'a newline', raw: 'a\nb', why: /control character/ },
    { description: 'an escape character', raw: 'a\u001b[31m', why: /control character/ },
    { description: 'DEL', raw: 'a\u007f', why: /control character/ },
    { description: 'a backslash', raw: 'a\\..\\b', why: /backslash/ },
    { description: 'an empty component', raw: 'a//b', why: /empty component/ },
    { description: 'two trailing slashes', raw: 'a//', why: /empty component/ },
    { description: 'a component over 255 bytes (ASCII)', raw: `d/${'x'.repeat(256)}`, why: /longer than 255 bytes/ },
    { description: 'a component over 255 bytes in UTF-8 though 128 characters', raw: 'é'.repeat(128), why: /longer than 255 bytes/ },
    { description: 'a path over the length limit', raw: 'a/'.repeat(MAX_REL_PATH_LENGTH / 2 + 1), why: /too long/ },
  ];
  for (const row of rows) {
    it(row.description, () => {
      assert.throws(() => toRelPath(row.raw), (err: unknown) => isUnsafe(err) && row.why.test((err as Error).message));
    });
  }

  it('quotes at most 200 characters of a hostile path in the message', () => {
    assert.throws(() => toRelPath(`${'y'.repeat(5000)}`), (err: unknown) => isUnsafe(err) && (err as Error).message.length < 300);
  });
});

describe('parentRel', () => {
  const rows: readonly { description: string; rel: string; expected: string | undefined }[] = [
    { description: 'the root has no parent', rel: '', expected: undefined },
    { description: 'a top-level entry has the root as parent', rel: 'a', expected: '' },
    { description: 'a nested entry has its directory as parent', rel: 'a/b/c', expected: 'a/b' },
  ];
  for (const row of rows) {
    it(row.description, () => {
      assert.equal(parentRel(rel(row.rel)), row.expected);
    });
  }
});

describe('ancestorsRel', () => {
  const rows: readonly { description: string; rel: string; expected: string[] }[] = [
    { description: 'the root has no ancestors', rel: '', expected: [] },
    { description: 'a top-level entry has only the root', rel: 'a', expected: [''] },
    { description: 'lists every ancestor from the root down, excluding the path', rel: 'a/b/c', expected: ['', 'a', 'a/b'] },
  ];
  for (const row of rows) {
    it(row.description, () => {
      assert.deepEqual(ancestorsRel(rel(row.rel)), row.expected);
    });
  }
});

describe('childRel', () => {
  it('joins below the root and below a directory', () => {
    assert.equal(childRel(rel(''), 'a'), 'a');
    assert.equal(childRel(rel('a/b'), 'c'), 'a/b/c');
  });

  it('refuses a name that would escape', () => {
    assert.throws(() => childRel(rel('a'), '..'), isUnsafe);
    assert.throws(() => childRel(rel('a'), 'x/../../y'), isUnsafe);
  });

  it('agrees with toRelPath on every kind of name, plain or not', () => {
    const names = ['a', '.', '..', '...', '.hidden', 'a b', 'x/y', 'x\\y', 'nul\u0000', 'tab\t', 'del\u007f', '', 'é'.repeat(85), 'é'.repeat(128), 'a'.repeat(255), 'a'.repeat(256), '日本'];
    for (const parent of ['', 'd', 'd/e']) {
      for (const name of names) {
        const joined = parent === '' ? name : `${parent}/${name}`;
        let want: string;
        try {
          want = toRelPath(joined);
        } catch {
          assert.throws(() => childRel(rel(parent), name), isUnsafe, JSON.stringify(joined));
          continue;
        }
        assert.equal(childRel(rel(parent), name), want, JSON.stringify(joined));
      }
    }
    assert.throws(() => childRel(rel('d'.repeat(MAX_REL_PATH_LENGTH - 2)), 'abc'), isUnsafe, 'too long in total');
  });
});
