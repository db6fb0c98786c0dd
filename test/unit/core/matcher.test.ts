// Tests the include/exclude and action pattern rules of docs/patterns.md.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPattern, compileMatcher, compilePatterns, isAnchoredPattern, matchesAny, prefixNameOf } from '../../../src/core/matcher.ts';

interface MatchCase {
  readonly description: string;
  readonly patterns: readonly string[];
  readonly path: string;
  readonly expected: boolean;
}

const SPEC_EXCLUDE = ['%www%/htdocs/cache', '*~', '.*.swp'];

const EXCLUDE_CASES: readonly MatchCase[] = [
  { description: 'an anchored directory excludes itself', patterns: SPEC_EXCLUDE, path: '%www%/htdocs/cache', expected: true },
  { description: 'an anchored directory excludes its descendants', patterns: SPEC_EXCLUDE, path: '%www%/htdocs/cache/a/b.html', expected: true },
  { description: 'an anchored pattern does not match a sibling with the same prefix', patterns: SPEC_EXCLUDE, path: '%www%/htdocs/cache2/x', expected: false },
  { description: 'an anchored pattern does not match at another depth', patterns: SPEC_EXCLUDE, path: '%www%/htdocs/sub/htdocs/cache', expected: false },
  { description: 'a component pattern matches a file name', patterns: SPEC_EXCLUDE, path: '%www%/htdocs/index.html~', expected: true },
  { description: 'a component pattern matches a directory name and so its contents', patterns: ['.git'], path: '/srv/app/.git/objects/ab', expected: true },
  { description: 'a component pattern matches the whole component only', patterns: ['.git'], path: '/srv/app/.gitignore', expected: false },
  { description: 'a leading-dot glob matches a swap file', patterns: SPEC_EXCLUDE, path: '/etc/nginx/sites-enabled/.default.swp', expected: true },
  { description: 'nothing matches a normal file', patterns: SPEC_EXCLUDE, path: '%www%/htdocs/index.html', expected: false },
  { description: 'star matches dot files', patterns: ['*.tmp'], path: '/srv/.x.tmp', expected: true },
  { description: 'star does not cross a slash in anchored patterns', patterns: ['/srv/*/x'], path: '/srv/a/b/x', expected: false },
  { description: 'star matches one component in anchored patterns', patterns: ['/srv/*/x'], path: '/srv/a/x', expected: true },
  { description: 'double star crosses components', patterns: ['/srv/**/x'], path: '/srv/a/b/c/x', expected: true },
  { description: 'double star matches zero components', patterns: ['/srv/**/x'], path: '/srv/x', expected: true },
  { description: 'a trailing double star matches the directory and its contents', patterns: ['%www%/tmp/**'], path: '%www%/tmp/a/b', expected: true },
  { description: 'question mark matches one character', patterns: ['file?.log'], path: '/var/log/app/file1.log', expected: true },
  { description: 'question mark does not match two characters', patterns: ['file?.log'], path: '/var/log/app/file12.log', expected: false },
  { description: 'a character class matches', patterns: ['[ab].txt'], path: '/d/b.txt', expected: true },
  { description: 'a negated character class excludes its members', patterns: ['[!ab].txt'], path: '/d/a.txt', expected: false },
  { description: 'regex characters are literal', patterns: ['a+b(1).txt'], path: '/d/a+b(1).txt', expected: true },
  { description: 'a dot is literal, not any character', patterns: ['a.txt'], path: '/d/abtxt', expected: false },
  { description: 'a multi-component unanchored pattern matches at any depth', patterns: ['cache/*.tmp'], path: '/srv/a/cache/x.tmp', expected: true },
  { description: 'a multi-component unanchored pattern needs whole components', patterns: ['cache/*.tmp'], path: '/srv/a/xcache/x.tmp', expected: false },
  { description: 'the last match wins: a negation re-includes a file', patterns: ['*.log', '!keep.log'], path: '/var/log/keep.log', expected: false },
  { description: 'the last match wins: a later exclude overrides a negation', patterns: ['!keep.log', '*.log'], path: '/var/log/keep.log', expected: true },
  { description: 'a negation cannot re-include beneath an excluded directory', patterns: ['/srv/cache', '!/srv/cache/keep'], path: '/srv/cache/keep', expected: true },
  { description: 'a negation re-includes one entry of an excluded listing', patterns: ['/srv/cache/*', '!/srv/cache/keep'], path: '/srv/cache/keep/f', expected: false },
  { description: 'an escaped bang is a literal name', patterns: ['\\!important'], path: '/d/!important', expected: true },
  { description: 'a trailing slash is ignored', patterns: ['/srv/cache/'], path: '/srv/cache/x', expected: true },
  { description: 'an empty list excludes nothing', patterns: [], path: '/srv/x', expected: false },
  { description: 'an anchored absolute pattern matches the root path itself', patterns: ['/etc/nginx/sites-enabled'], path: '/etc/nginx/sites-enabled', expected: true },
];

describe('compileMatcher', () => {
  for (const row of EXCLUDE_CASES) {
    it(`${row.expected ? 'excludes' : 'keeps'}: ${row.description}`, () => {
      assert.equal(compileMatcher(row.patterns).isExcluded(row.path), row.expected, `${JSON.stringify(row.patterns)} on ${row.path}`);
    });
  }

  it('throws a bug error for a pattern that checkPattern rejects', () => {
    assert.throws(() => compileMatcher(['']), /^Error: bug: /);
  });
});

describe('matchesAny', () => {
  it('selects files directly in the action directory', () => {
    assert.equal(matchesAny(['/etc/nginx/sites-enabled/*'], '/etc/nginx/sites-enabled/default'), true);
  });
  it('selects an entry below a matched directory', () => {
    assert.equal(matchesAny(['/etc/nginx/sites-enabled/*'], '/etc/nginx/sites-enabled/d/x'), true);
  });
  it('does not select the directory itself for a /* pattern', () => {
    assert.equal(matchesAny(['/etc/nginx/sites-enabled/*'], '/etc/nginx/sites-enabled'), false);
  });
  it('selects when any of several patterns matches', () => {
    assert.equal(matchesAny(['/a/*', '%www%/*.conf'], '%www%/x.conf'), true);
    assert.equal(matchesAny(['/a/*', '%www%/*.conf'], '%www%/x.txt'), false);
  });
  it('exposes the patterns of a compiled set', () => {
    assert.deepEqual(compilePatterns(['a', 'b']).patterns, ['a', 'b']);
  });
});

describe('checkPattern', () => {
  const rows: readonly { description: string; pattern: string; problem: RegExp | undefined }[] = [
    { description: 'accepts an anchored prefix pattern', pattern: '%www%/cache', problem: undefined },
    { description: 'accepts a bare prefix', pattern: '%www%', problem: undefined },
    { description: 'accepts a component glob', pattern: '*.tmp', problem: undefined },
    { description: 'rejects an empty pattern', pattern: '', problem: /empty/ },
    { description: 'rejects a lone bang', pattern: '!', problem: /empty/ },
    { description: 'rejects an unterminated prefix', pattern: '%www/cache', problem: /%name%/ },
    { description: 'rejects a prefix glued to a name', pattern: '%www%cache', problem: /%name%/ },
    { description: 'rejects an empty component', pattern: '/srv//x', problem: /empty path component/ },
  ];
  for (const row of rows) {
    it(row.description, () => {
      const problem = checkPattern(row.pattern);
      if (row.problem === undefined) assert.equal(problem, undefined);
      else assert.match(problem ?? '', row.problem);
    });
  }
});

describe('prefixNameOf and isAnchoredPattern', () => {
  it('names the prefix of a rooted value', () => {
    assert.equal(prefixNameOf('%www%/htdocs'), 'www');
    assert.equal(prefixNameOf('!%www%/htdocs'), 'www');
    assert.equal(prefixNameOf('/etc'), undefined);
  });
  it('tells anchored patterns from component patterns', () => {
    assert.equal(isAnchoredPattern('/etc/x'), true);
    assert.equal(isAnchoredPattern('%www%/x'), true);
    assert.equal(isAnchoredPattern('*.tmp'), false);
  });
});
