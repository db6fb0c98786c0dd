// Properties of toRelPath (core/paths.ts): idempotent, never '..' or absolute, never escapes a root.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import fc from 'fast-check';
import { CsyncError } from '../../src/core/errors.ts';
import { ancestorsRel, parentRel, toRelPath } from '../../src/core/paths.ts';
import type { RelPath } from '../../src/core/types.ts';

const NUM_RUNS = 2000;
const SEED = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
const ROOT = '/srv/root';

/** Path-like strings biased towards the dangerous pieces: '..', '.', '/', '\\', NUL, long names. */
const arbPiece = fc.oneof(
  fc.constantFrom('..', '.', '', 'a', 'b.txt', '...', '.hidden', '\\', '\u0000', '\n', 'é', '%2e%2e', '~'),
  fc.string({ maxLength: 8 }),
  fc.string({ minLength: 250, maxLength: 260 }),
);
const arbRaw = fc.oneof(
  fc.array(arbPiece, { maxLength: 8 }).map((parts) => parts.join('/')),
  fc.tuple(fc.constantFrom('', '/', '//'), fc.array(arbPiece, { maxLength: 6 })).map(([lead, parts]) => lead + parts.join('/')),
  fc.string({ maxLength: 40 }),
);

/** Runs toRelPath; undefined when it refused (which must be a CSYNC_PATH_UNSAFE CsyncError). */
function tryRel(raw: string): RelPath | undefined {
  try {
    return toRelPath(raw);
  } catch (err) {
    assert.ok(err instanceof CsyncError && err.code === 'CSYNC_PATH_UNSAFE', `only CSYNC_PATH_UNSAFE, got ${String(err)}`);
    return undefined;
  }
}

describe('toRelPath (property)', () => {
  it(`is idempotent and only ever throws CSYNC_PATH_UNSAFE (seed ${SEED})`, () => {
    fc.assert(
      fc.property(arbRaw, (raw) => {
        const once = tryRel(raw);
        if (once !== undefined) assert.equal(toRelPath(once), once);
      }),
      { numRuns: NUM_RUNS, seed: SEED },
    );
  });

  it(`never yields a '..' or '.' component, an empty component or a leading '/' (seed ${SEED})`, () => {
    fc.assert(
      fc.property(arbRaw, (raw) => {
        const r = tryRel(raw);
        if (r === undefined || r === '') return;
        assert.ok(!r.startsWith('/'), 'not absolute');
        assert.ok(!r.endsWith('/'), 'no trailing slash');
        for (const part of r.split('/')) assert.ok(part !== '..' && part !== '.' && part !== '', `component ${JSON.stringify(part)}`);
        assert.ok(!r.includes('\\') && !r.includes('\u0000'));
      }),
      { numRuns: NUM_RUNS, seed: SEED },
    );
  });

  it(`joined under a root with posix.join, never escapes the root (seed ${SEED})`, () => {
    fc.assert(
      fc.property(arbRaw, (raw) => {
        const r = tryRel(raw);
        if (r === undefined) return;
        const joined = posix.join(ROOT, r);
        assert.ok(joined === ROOT || joined.startsWith(`${ROOT}/`), `${JSON.stringify(joined)} stays under ${ROOT}`);
        assert.equal(posix.relative(ROOT, joined), r, 'the join is not normalised away');
      }),
      { numRuns: NUM_RUNS, seed: SEED },
    );
  });

  it(`has a parent that is its last ancestor, and every ancestor is valid (seed ${SEED})`, () => {
    fc.assert(
      fc.property(arbRaw, (raw) => {
        const r = tryRel(raw);
        if (r === undefined || r === '') return;
        const ancestors = ancestorsRel(r);
        assert.equal(ancestors.at(-1), parentRel(r));
        for (const a of ancestors) assert.equal(toRelPath(a), a);
      }),
      { numRuns: NUM_RUNS, seed: SEED },
    );
  });
});
