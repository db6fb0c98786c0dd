// csync2's ordered include/exclude patterns → csync's include roots and exclude list. Pure.
//
// csync2 (groups.c, match_pattern_list) keeps two verdicts per file: the last *path* pattern
// (starting with "/" or "%") that matches the file or one of its parent directories must be an
// include, and the last *basename* pattern that matches the file's name, if any, must be one too.
// csync has plain include roots and one exclude list in which, per level of the path, the last
// match decides and "!" re-includes (docs/patterns.md). The translation:
// - roots are the literal directories in front of every path include (a glob include such as
//   /etc/*.conf gives the root /etc, which is then closed with "/etc/*" and reopened with
//   "!/etc/*.conf"), minus the ones inside another root;
// - path excludes keep their order; a path include inside a root becomes "!PATH", and every
//   excluded directory above it is reopened level by level ("!DIR" then "DIR/*"), which is how
//   csync2 steps into an excluded directory to reach an included path below it;
// - basename patterns go last, so a basename exclude wins over any path verdict (csync2 needs
//   both verdicts to be "include").
import { compilePatterns } from '../core/matcher.ts';
import type { Csync2Pattern, Where } from './csync2-grammar.ts';

export interface ConvertedPatterns {
  readonly include: string[];
  readonly exclude: string[];
  /** What could not be carried over exactly, each naming its line. */
  readonly notes: string[];
}

const GLOB = /[*?[\\]/;

const isPathPattern = (p: string): boolean => p.startsWith('/') || p.startsWith('%');

/** "/a/b/*.c" → "/a/b": the components in front of the first one holding a glob character. */
function literalBase(pattern: string): string {
  const parts = pattern.split('/');
  const firstGlob = parts.findIndex((part) => GLOB.test(part));
  if (firstGlob < 0) return pattern;
  const base = parts.slice(0, firstGlob).join('/');
  return base === '' ? '/' : base;
}

/** True when `inner` is `outer` or below it. */
function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer === '/' ? '/' : `${outer}/`);
}

/** csync reads a leading "!" as "re-include"; csync2 reads it as a literal "!". */
const literal = (p: string): string => (p.startsWith('!') ? `\\${p}` : p);

/** The roots: every include's literal base that is not inside another one, in file order. */
function pickRoots(includes: readonly string[]): string[] {
  const bases = [...new Set(includes.map(literalBase))];
  return bases.filter((b) => !bases.some((o) => o !== b && within(b, o)));
}

/**
 * Appends to `exclude` what reopens `path` below `root`: every excluded level above it, then the
 * path. Returns the glob levels it had to open on the way (see the note in convertPatterns).
 */
function reopen(exclude: string[], root: string, path: string): string[] {
  const globLevels: string[] = [];
  const below = path.slice(root === '/' ? 1 : root.length + 1).split('/');
  let level = root === '/' ? '' : root;
  below.forEach((part, i) => {
    level = `${level}/${part}`;
    const excluded = compilePatterns(exclude).matches(level);
    // The last level of a glob include is always re-included: whether an exclude covers some of
    // the names it matches cannot be told from the pattern text ("!" alone never excludes).
    if (i === below.length - 1) {
      if (excluded || GLOB.test(part)) exclude.push(`!${level}`);
    } else if (excluded) {
      openLevel(exclude, level);
      if (GLOB.test(part)) globLevels.push(level);
    }
  });
  return globLevels;
}

/** Makes an excluded directory visible but not its contents: "DIR" becomes "DIR/*" when that suffices. */
function openLevel(exclude: string[], level: string): void {
  const exact = exclude.lastIndexOf(level);
  if (exact >= 0) {
    exclude[exact] = `${level}/*`;
    if (!compilePatterns(exclude).matches(level)) return;
  }
  exclude.push(`!${level}`, `${level}/*`);
}

/** Converts one group's csync2 patterns, in file order. */
export function convertPatterns(patterns: readonly Csync2Pattern[], group: string): ConvertedPatterns {
  const notes: string[] = [];
  const note = (where: Where, text: string): void => void notes.push(`${where}: group ${group}: ${text}`);
  const active = patterns.filter((p) => {
    if (p.kind === 'compare') note(p.where, `compare ${p.pattern} is dropped: csync2 uses compare patterns only in its -o/-TT compare modes; csync -T compares every file of the group`);
    return p.kind !== 'compare';
  });
  const paths = active.filter((p) => isPathPattern(p.pattern));
  const include = pickRoots(paths.filter((p) => p.kind === 'include').map((p) => p.pattern));
  const whole = new Set(paths.filter((p) => p.kind === 'include' && include.includes(p.pattern)).map((p) => p.pattern));
  // A root that csync2 only steps through (it holds included paths but is not included itself).
  const exclude = include.filter((r) => !whole.has(r)).map((r) => (r === '/' ? '/*' : `${r}/*`));
  for (const p of paths) {
    if (p.pattern.includes('**')) note(p.where, `${p.pattern}: csync2 lets every "*" of a pattern holding "**" match "/"; csync's "*" stays within one name and "**" spans whole directories: check the result`);
    if (p.kind === 'exclude') exclude.push(literal(p.pattern));
    else if (whole.has(p.pattern)) {
      if (exclude.some((e) => within(e.replace(/^!/, ''), p.pattern))) note(p.where, `include ${p.pattern} comes after excludes inside it; csync2 re-includes everything below it, csync keeps those excludes`);
    } else {
      const root = include.find((r) => within(p.pattern, r)) as string;
      for (const level of reopen(exclude, root, p.pattern)) {
        note(p.where, `include ${p.pattern}: csync also syncs files that match ${level} (csync2 only steps through such directories): exclude them if that matters`);
      }
    }
  }
  for (const p of active.filter((x) => !isPathPattern(x.pattern))) {
    if (p.pattern.includes('/')) note(p.where, `${p.kind} ${p.pattern} is dropped: csync2 matches a pattern that does not start with "/" or "%" against file names only, so one holding "/" never matches`);
    else exclude.push(p.kind === 'exclude' ? literal(p.pattern) : `!${p.pattern}`);
  }
  const baseIncludes = active.filter((p) => p.kind === 'include' && !isPathPattern(p.pattern) && !p.pattern.includes('/'));
  if (baseIncludes.length > 0 && paths.some((p) => p.kind === 'exclude')) {
    for (const p of baseIncludes) note(p.where, `include ${p.pattern} also brings back a file of that name that a path exclude excluded (csync2 keeps it excluded): check the exclude list`);
  }
  return { include, exclude, notes };
}
