// The man pages ship with the package: the committed roff (man/) matches its Markdown source (docs/),
// csync(1) names every flag and command the parser accepts, and csync.toml(5) every config key.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { USAGE } from '../../src/cli/args.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** All capture groups 1 of `re` in `text`. */
function all(re: RegExp, text: string): string[] {
  return [...text.matchAll(re)].map((m) => m[1] as string);
}

/** The object literal or array literal that follows `marker` in `source` (up to its closing bracket). */
function literalAfter(source: string, marker: string): string {
  const start = source.indexOf(marker);
  assert.ok(start >= 0, `${marker} not found: update this test to the new source`);
  const open = source.slice(start).search(/[{[]/);
  const close = source.indexOf(source[start + open] === '{' ? '}' : ']', start + open);
  return source.slice(start + open, close + 1);
}

/** True when `page` shows `word` as a code span (`word`, or `word ...` inside one). */
function inCode(page: string, word: string): boolean {
  return page.includes(`\`${word}\``) || page.includes(`\`${word} `);
}

describe('man pages', () => {
  it('the committed roff is what scripts/man.mjs makes from docs/ (run `npm run man` after editing)', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts/man.mjs'), '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  it('package.json installs both pages', () => {
    const pkg = JSON.parse(read('package.json')) as { man?: string[]; files?: string[] };
    assert.deepEqual(pkg.man, ['man/csync.1', 'man/csync.toml.5']);
    assert.ok(pkg.files?.includes('man/'));
  });

  describe('csync(1) names every flag and command of src/cli/args.ts', () => {
    const page = read('docs/csync.1.md');
    const args = read('src/cli/args.ts');
    const shortActions = all(/(\w):\s*'/g, literalAfter(args, 'const SHORT_ACTIONS'));
    const subcommands = all(/'?([a-z][\w-]*)'?:\s*'/g, literalAfter(args, 'const SUBCOMMANDS'));
    const valueFlags = all(/'(\w)'/g, literalAfter(args, 'const VALUE_FLAGS'));
    const plainFlags = all(/f === '(\w)'/g, args);
    const longOptions = [...new Set(all(/'(--[a-z][a-z-]*)'/g, args))];
    const twoWords = all(/'((?:config|tls|trust) [a-z]+)'/g, args);
    const usageFlags = [...new Set(all(/(?<![\w-])(--?[A-Za-z][\w-]*)/g, USAGE))];

    it('found what it looks for in the source (else this test reads the parser wrongly)', () => {
      assert.ok(shortActions.length >= 9, `short actions: ${shortActions.join(' ')}`);
      assert.ok(subcommands.length >= 7, `subcommands: ${subcommands.join(' ')}`);
      assert.ok(valueFlags.length >= 6 && plainFlags.length >= 5, `flags: ${valueFlags.join('')} ${plainFlags.join('')}`);
      assert.ok(longOptions.length >= 10 && twoWords.length >= 6, `long: ${longOptions.join(' ')}; ${twoWords.join(', ')}`);
      assert.ok(usageFlags.length >= 20, `usage: ${usageFlags.join(' ')}`);
    });
    for (const flag of [...shortActions, ...valueFlags, ...plainFlags].map((f) => `-${f}`).concat('-ii', longOptions)) {
      it(`documents ${flag}`, () => assert.ok(inCode(page, flag), `${flag} is accepted by the parser but not in docs/csync.1.md`));
    }
    for (const cmd of [...subcommands, ...twoWords]) {
      it(`documents \`csync ${cmd}\``, () => assert.ok(inCode(page, cmd), `${cmd} is accepted by the parser but not in docs/csync.1.md`));
    }
    it('documents every flag of the help text', () => {
      assert.deepEqual(usageFlags.filter((f) => !inCode(page, f)), []);
    });
  });

  describe('csync.toml(5) names every key the config parser accepts', () => {
    const page = read('docs/csync.toml.5.md');
    const parse = read('src/config/parse.ts');
    const group = read('src/config/parse-group.ts');
    const keys = [
      ...all(/'([a-z_]+)'/g, literalAfter(parse, 'const TOP_KEYS')),
      ...all(/'([a-z_]+)'/g, literalAfter(parse, "checkKeys(c, tbl, 'tls', ")).map((k) => (k === 'tls' ? '' : k)).filter((k) => k !== ''),
      ...all(/'([a-z_]+)'/g, literalAfter(parse, "checkKeys(c, tbl, 'metrics', ")).filter((k) => k !== 'metrics'),
      ...all(/'([a-z_]+)'/g, literalAfter(group, 'const GROUP_KEYS')),
      ...all(/'([a-z_]+)'/g, literalAfter(group, 'const ACTION_KEYS')),
    ];
    it('found the key lists (else this test reads the parser wrongly)', () => assert.ok(keys.length >= 30, keys.join(' ')));
    for (const key of new Set(keys)) {
      const shown = inCode(page, key) || page.includes(`[${key}]`) || page.includes(`[${key}.`) || page.includes(`.${key}]`);
      it(`documents ${key}`, () => assert.ok(shown, `${key} is accepted by the config parser but not in docs/csync.toml.5.md`));
    }
  });
});
