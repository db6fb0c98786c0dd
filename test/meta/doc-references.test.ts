// The repository stands alone: no file points at design documents that are not in it, and every
// relative link in the Markdown documentation names a file that exists.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const SELF = 'test/meta/doc-references.test.ts';
/** What users and reviewers read: documentation, units, scripts, sources and tests. */
const SCANNED = ['README.md', 'DECISIONS.md', 'csync.example.toml', 'eslint.config.mjs', 'package.json', 'bin', 'docs', 'man', 'systemd', 'src', 'test', 'native-bench', 'scripts'];
const TEXT = /\.(md|ts|mjs|cjs|js|json|toml|sql|sh|service|timer|[1-8])$/;

/**
 * References to documents outside the repository: a section of the old product spec or style guide
 * ("§4" of the one, "§5.7" of the other, also JSON-escaped, or split over two lines), those files by name, or the shared folder they lived in.
 * Built from pieces so that this file does not match itself.
 */
const OUTSIDE = [
  new RegExp(`\\b(${'SP'}EC|${'ST'}YLE)\\s*(§|\\\\u00a7)`),
  new RegExp(`\\b(${'SP'}EC|${'ST'}YLE)\\.md\\b|\\b(${'SP'}EC|${'ST'}YLE)\\s*$`),
  new RegExp(`\\.\\./${'sha'}red/|/work/${'sha'}red\\b`),
];

function files(path: string): string[] {
  const abs = join(ROOT, path);
  if (!existsSync(abs)) return [];
  if (statSync(abs).isFile()) return TEXT.test(path) || !path.includes('.') ? [path] : [];
  return readdirSync(abs).flatMap((name) => files(join(path, name)));
}

describe('documentation stands alone', () => {
  const all = SCANNED.flatMap(files).filter((f) => f !== SELF);

  it('scans the repository (else the list above is wrong)', () => assert.ok(all.length > 100, `${all.length} files`));

  it('no file refers to a design document outside the repository', () => {
    const hits: string[] = [];
    for (const file of all) {
      readFileSync(join(ROOT, file), 'utf8').split('\n').forEach((line, i) => {
        if (OUTSIDE.some((re) => re.test(line))) hits.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(hits, [], 'point these at a file in the repository (docs/, DECISIONS.md, README.md) or drop the reference');
  });

  it('every relative link in the Markdown files names a file that exists', () => {
    const broken: string[] = [];
    for (const file of all.filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = (m[1] as string).split('#')[0] as string;
        if (target === '' || /^[a-z]+:/.test(target)) continue;
        if (!existsSync(join(ROOT, dirname(file), target))) broken.push(`${file}: ${target} (${relative(ROOT, join(ROOT, dirname(file), target))})`);
      }
    }
    assert.deepEqual(broken, []);
  });
});
