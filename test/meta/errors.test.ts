// Every ErrorCode is in the catalogue with a sysexits status, and cli/ renders it with its hint.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CsyncError, ERROR_CATALOGUE } from '../../src/core/errors.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import { renderError } from '../../src/cli/output.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SYSEXITS = new Set([1, 64, 65, 69, 70, 74, 75, 76, 77, 78]);

describe('error catalogue', () => {
  const source = readFileSync(resolve(ROOT, 'src/core/errors.ts'), 'utf8');
  const union = [...(source.match(/export type ErrorCode =([^;]+);/)?.[1] ?? '').matchAll(/'([A-Z_]+)'/g)].map((m) => m[1] as ErrorCode);

  it('lists every code of the ErrorCode union, and nothing else', () => {
    assert.ok(union.length > 10);
    assert.deepEqual([...union].sort(), Object.keys(ERROR_CATALOGUE).sort());
  });

  for (const code of union) {
    it(`maps ${code} to a sysexits status and renders message and hint without a stack`, () => {
      const status = ERROR_CATALOGUE[code].exitStatus;
      assert.ok(SYSEXITS.has(status), `${code} → ${status}`);
      let err = '';
      const got = renderError({ out: () => undefined, err: (t) => (err += t), isTty: false }, new CsyncError(code, 'thing: went wrong', { hint: 'do this' }), false);
      assert.equal(got, status);
      assert.equal(err, 'csync: thing: went wrong\nhint: do this\n');
    });
  }
});
