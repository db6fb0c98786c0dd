// Include/exclude and action pattern matching on logical paths (docs/patterns.md).
// Pure: strings in, booleans out. Knows nothing about prefixes' values or the filesystem.

/**
 * One compiled pattern. `anchored` patterns (starting with `/` or `%prefix%`) match a whole
 * logical path; the others match the trailing component(s) of a path at any depth.
 */
interface CompiledPattern {
  readonly source: string;
  /** True for a `!pattern` (re-include / deselect). */
  readonly negated: boolean;
  readonly anchored: boolean;
  /** True when an unanchored pattern has no `/`: tested against one component only. */
  readonly singleComponent: boolean;
  readonly regex: RegExp;
}

/** A compiled, ordered list of patterns with last-match-wins semantics. */
export interface PatternSet {
  /** The patterns as written, in order. */
  readonly patterns: readonly string[];
  /**
   * True when the path is selected: at some level (an ancestor or the path itself), going from
   * the top down, the last pattern matching that level is a positive (non-`!`) pattern.
   */
  matches(logical: string): boolean;
}

/** The exclude side of a group: a PatternSet read as "is this entry excluded?". */
export interface ExcludeMatcher {
  /** True when `logical` or one of its ancestors is excluded (see PatternSet.matches). */
  isExcluded(logical: string): boolean;
}

/** True when a pattern is anchored, i.e. matched against the whole logical path. */
export function isAnchoredPattern(pattern: string): boolean {
  const body = pattern.startsWith('!') ? pattern.slice(1) : pattern;
  return body.startsWith('/') || body.startsWith('%');
}

/**
 * Returns why `pattern` is unusable, or undefined when it compiles. Used by config validation;
 * compilePatterns() throws an Error('bug: …') for such patterns.
 */
export function checkPattern(pattern: string): string | undefined {
  const body = pattern.startsWith('!') ? pattern.slice(1) : pattern;
  if (body === '' || body === '/') return 'is empty';
  if (body.includes('\0')) return 'contains NUL';
  if (body.startsWith('%') && !/^%[A-Za-z0-9_-]+%(\/|$)/.test(body)) {
    return 'must start with "%name%" followed by "/" or nothing';
  }
  const trimmed = body.endsWith('/') ? body.slice(0, -1) : body;
  if (trimmed.split('/').slice(1).some((seg) => seg === '')) return 'has an empty path component ("//")';
  return undefined;
}

/** Returns the `%name%` prefix a pattern or root starts with, or undefined. */
export function prefixNameOf(pattern: string): string | undefined {
  const body = pattern.startsWith('!') ? pattern.slice(1) : pattern;
  return /^%([A-Za-z0-9_-]+)%(?:\/|$)/.exec(body)?.[1];
}

/** Translates one path component's glob (`*`, `?`, `[...]`, `\x`) to a regex source. */
function componentToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\' && i + 1 < glob.length) out += escapeRegex(glob[++i] as string);
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) out += '\\[';
      else {
        out += classToRegex(glob.slice(i + 1, end));
        i = end;
      }
    } else out += escapeRegex(c);
  }
  return out;
}

/** Translates the inside of a `[...]` class; `!` or `^` first negates it. Never matches `/`. */
function classToRegex(inner: string): string {
  const negated = inner.startsWith('!') || inner.startsWith('^');
  const body = (negated ? inner.slice(1) : inner).replace(/[\\\]^[]/g, (ch) => `\\${ch}`);
  return negated ? `[^/${body}]` : `(?!/)[${body}]`;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, (ch) => `\\${ch}`);
}

/**
 * Builds the regex source for '/'-separated glob segments: `**` as a whole segment matches
 * zero or more components; any other segment matches exactly one component.
 */
function segmentsToRegex(segments: readonly string[]): string {
  let out = '';
  let needSlash = false;
  segments.forEach((seg, i) => {
    if (seg === '**') {
      if (i > 0 && segments[i - 1] === '**') return;
      if (i === 0 && segments.length === 1) out += '.*';
      else if (i === 0) out += '(?:[^/]+/)*';
      else out += '(?:/[^/]+)*';
      return;
    }
    out += (needSlash ? '/' : '') + componentToRegex(seg);
    needSlash = true;
  });
  return out;
}

function compileOne(raw: string): CompiledPattern {
  const problem = checkPattern(raw);
  if (problem !== undefined) throw new Error(`bug: pattern ${JSON.stringify(raw)} ${problem}`);
  const negated = raw.startsWith('!');
  let body = negated ? raw.slice(1) : raw;
  if (body.startsWith('\\!')) body = body.slice(1);
  if (body.length > 1 && body.endsWith('/')) body = body.slice(0, -1);
  const anchored = body.startsWith('/') || body.startsWith('%');
  const source = segmentsToRegex(body.split('/'));
  const singleComponent = !anchored && !body.includes('/');
  const regex = anchored || singleComponent ? new RegExp(`^${source}$`, 's') : new RegExp(`(?:^|/)${source}$`, 's');
  return { source: raw, negated, anchored, singleComponent, regex };
}

/** Every level of a logical path from the top down: '/a/b' → ['/a', '/a/b']; '%w%/x' → ['%w%', '%w%/x']. */
function levelsOf(logical: string): string[] {
  const parts = logical.split('/');
  const levels: string[] = [];
  for (let k = 1; k <= parts.length; k++) {
    const level = parts.slice(0, k).join('/');
    if (level !== '') levels.push(level);
  }
  return levels;
}

function lastComponent(level: string): string {
  return level.slice(level.lastIndexOf('/') + 1);
}

/** The verdict of the last pattern matching exactly this level, or undefined when none does. */
function verdictAt(compiled: readonly CompiledPattern[], level: string): boolean | undefined {
  for (let i = compiled.length - 1; i >= 0; i--) {
    const p = compiled[i] as CompiledPattern;
    const subject = p.singleComponent ? lastComponent(level) : level;
    if (p.regex.test(subject)) return !p.negated;
  }
  return undefined;
}

/**
 * Compiles patterns (see docs/patterns.md). Last match wins per level; a level selected by a
 * positive pattern selects everything beneath it, and a `!` pattern cannot undo that for its
 * descendants (as in gitignore). Throws Error('bug: …') for a pattern checkPattern() rejects;
 * config validation runs checkPattern() first.
 */
export function compilePatterns(patterns: readonly string[]): PatternSet {
  const compiled = patterns.map(compileOne);
  return {
    patterns: [...patterns],
    matches(logical: string): boolean {
      if (compiled.length === 0) return false;
      for (const level of levelsOf(logical)) {
        if (verdictAt(compiled, level) === true) return true;
      }
      return false;
    },
  };
}

/** Compiles a group's `exclude` list. See compilePatterns() for the rules and what it throws. */
export function compileMatcher(exclude: readonly string[]): ExcludeMatcher {
  const set = compilePatterns(exclude);
  return { isExcluded: (logical) => set.matches(logical) };
}

/**
 * True when `logical` (or an ancestor) is selected by `patterns` — the test for an action's
 * `pattern` list. Compiles on every call; hold a compilePatterns() result for hot loops.
 */
export function matchesAny(patterns: readonly string[], logical: string): boolean {
  return compilePatterns(patterns).matches(logical);
}
