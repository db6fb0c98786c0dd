// csync2.cfg text → a syntax tree, following csync2's own grammar (cfgfile_scanner.l and
// cfgfile_parser.y in LINBIT/csync2): what csync2 accepts is accepted here, what it rejects at
// parse time is rejected with the line. Pure: included files are read through a function given
// by the caller.

/** Where a token came from, for notes: "line 12", or "/etc/csync2.d/web.cfg line 3" in an include. */
export type Where = string;

/** One csync2 `host` entry. `address` is the part after `@`. */
export interface Csync2Host {
  readonly name: string;
  readonly address: string | undefined;
  /** Written in `( )`: csync2's slave, which receives but never sends. */
  readonly slave: boolean;
  readonly where: Where;
}

/** One include/exclude/compare pattern of a group, in file order. */
export interface Csync2Pattern {
  readonly kind: 'include' | 'exclude' | 'compare';
  readonly pattern: string;
  readonly where: Where;
}

/** A value with the line that set it. */
export interface Located {
  readonly value: string;
  readonly where: Where;
}

export interface Csync2Action {
  readonly where: Where;
  readonly patterns: string[];
  /** One entry per `exec` statement, with its words: csync2 runs each word as its own command. */
  readonly execs: { readonly words: string[]; readonly where: Where }[];
  logfile: Located | undefined;
  doLocal: boolean;
  doLocalOnly: boolean;
}

export interface Csync2Group {
  readonly name: string;
  readonly where: Where;
  readonly hosts: Csync2Host[];
  key: Located | undefined;
  readonly patterns: Csync2Pattern[];
  auto: string | undefined;
  backupDir: Located | undefined;
  backupGenerations: Located | undefined;
  readonly actions: Csync2Action[];
}

export interface Csync2PrefixRule {
  readonly hostPattern: string;
  readonly path: string;
  readonly where: Where;
}

export interface Csync2Prefix {
  readonly name: string;
  readonly where: Where;
  readonly rules: Csync2PrefixRule[];
}

/** A top-level statement csync has no setting for (nossl, database, tempdir, …). */
export interface Csync2Global {
  readonly keyword: string;
  readonly args: string[];
  readonly where: Where;
}

/** A `config FILE` include, as csync2 named it and as it was opened. */
export interface Csync2Include {
  readonly written: string;
  readonly opened: string;
  readonly where: Where;
}

export interface Csync2Config {
  readonly groups: Csync2Group[];
  readonly prefixes: Csync2Prefix[];
  /** Global `ignore` properties (uid, gid, mod), for every group. */
  readonly ignore: string[];
  readonly globals: Csync2Global[];
  readonly includes: Csync2Include[];
}

/** How `config FILE` statements are followed. */
export interface IncludeReader {
  /** Directory against which relative include paths are opened (csync2 uses its working directory). */
  readonly baseDir: string | undefined;
  /** Returns the text of an included file; throws when it cannot be read. */
  readonly read: (path: string) => string;
}

type TokenKind = 'str' | 'kw' | 'punct';
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly where: Where;
}

const KEYWORDS = new Set([
  'nossl', 'ignore', 'database', 'group', 'host', 'exclude', 'include', 'compare', 'key', 'auto', 'action', 'pattern', 'exec',
  'logfile', 'do-local', 'do-local-only', 'prefix', 'on', 'lock-timeout', 'tempdir', 'backup-directory', 'backup-generations',
  'no-cygwin-lowercase',
]);
/** csync2's scanner: a word is anything but these; it may contain ':' but not end with it. */
const NOT_WORD = new Set([' ', '\r', '\n', '\t', '@', ';', '(', ')', '#', '"']);
const SPACE = new Set([' ', '\r', '\n', '\t']);
/** csync2's MAX_INCLUDE_DEPTH. */
const MAX_INCLUDE_DEPTH = 10;

/** Tokenizes one file, splicing `config FILE` includes in where they stand, as csync2's scanner does. */
function tokenize(text: string, file: string | undefined, includes: IncludeReader & { readonly seen: Csync2Include[] }, depth: number): Token[] {
  const out: Token[] = [];
  let line = 1;
  const where = (): Where => (file === undefined ? `line ${line}` : `${file} line ${line}`);
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (SPACE.has(c)) {
      if (c === '\n') line++;
      i++;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw new Error(`${where()}: a quoted string is never closed`);
      const body = text.slice(i + 1, end);
      // csync2's scanner cannot return an empty match: "" yields no word at all.
      if (body !== '') out.push({ kind: 'str', text: body, where: where() });
      line += body.split('\n').length - 1;
      i = end + 1;
    } else {
      let j = i;
      while (j < text.length && !NOT_WORD.has(text[j] as string)) j++;
      while (j > i && text[j - 1] === ':') j--;
      // No word here: c is one of @ ; ( ) or a ':' that ends a word. A lone { or } is a word
      // csync2's scanner reads as punctuation (same length, earlier rule); "{x" stays a word.
      const punct = j === i || ((c === '{' || c === '}') && j === i + 1);
      const word = j > i ? text.slice(i, j) : c;
      i += word.length;
      if (word === 'config' && !punct) {
        const r = readIncludes(text, i, { file, line, includes, depth });
        out.push(...r.tokens);
        ({ i, line } = r);
      } else {
        out.push({ kind: punct ? 'punct' : KEYWORDS.has(word) ? 'kw' : 'str', text: word, where: where() });
      }
    }
  }
  return out;
}

/** After `config`: file names up to `;`, each tokenized in place (csync2's INCL scanner state). */
function readIncludes(
  text: string,
  start: number,
  ctx: { readonly file: string | undefined; line: number; readonly includes: IncludeReader & { readonly seen: Csync2Include[] }; readonly depth: number },
): { tokens: Token[]; i: number; line: number } {
  const tokens: Token[] = [];
  let i = start;
  let line = ctx.line;
  const where = (): Where => (ctx.file === undefined ? `line ${line}` : `${ctx.file} line ${line}`);
  while (i < text.length && text[i] !== ';') {
    const c = text[i] as string;
    if (SPACE.has(c)) {
      if (c === '\n') line++;
      i++;
      continue;
    }
    let j = i;
    while (j < text.length && !SPACE.has(text[j] as string) && text[j] !== ';') j++;
    const written = text.slice(i, j);
    i = j;
    if (ctx.depth + 1 >= MAX_INCLUDE_DEPTH) throw new Error(`${where()}: config includes nested too deeply (csync2 allows ${MAX_INCLUDE_DEPTH})`);
    const { baseDir } = ctx.includes;
    const opened = written.startsWith('/') || baseDir === undefined ? written : `${baseDir.replace(/\/+$/, '')}/${written}`;
    ctx.includes.seen.push({ written, opened, where: where() });
    let body: string;
    try {
      body = ctx.includes.read(opened);
    } catch {
      throw new Error(`${where()}: cannot open included config file ${JSON.stringify(opened)}`);
    }
    tokens.push(...tokenize(body, opened, ctx.includes, ctx.depth + 1));
  }
  return { tokens, i: i + 1, line };
}

/** Recursive descent over csync2's grammar (cfgfile_parser.y). */
class Parser {
  private pos = 0;
  private unnamedGroups = 0;
  readonly config: Csync2Config;
  private readonly toks: readonly Token[];

  constructor(toks: readonly Token[], includes: Csync2Include[]) {
    this.toks = toks;
    this.config = { groups: [], prefixes: [], ignore: [], globals: [], includes };
  }

  private peek(): Token | undefined {
    return this.toks[this.pos];
  }
  private next(what: string): Token {
    const t = this.toks[this.pos++];
    if (t === undefined) throw new Error(`unexpected end of file: expected ${what}`);
    return t;
  }
  private is(t: Token | undefined, kind: TokenKind, text?: string): boolean {
    return t !== undefined && t.kind === kind && (text === undefined || t.text === text);
  }
  private expect(kind: TokenKind, text?: string): Token {
    const what = text ?? 'a word';
    const t = this.next(`"${what}"`);
    if (!this.is(t, kind, text)) throw new Error(`${t.where}: syntax error: expected ${text === undefined ? 'a word' : `"${text}"`}, got "${t.text}"`);
    return t;
  }
  /** Words up to the closing ';' (consumed). */
  private strings(): Token[] {
    const out: Token[] = [];
    while (this.is(this.peek(), 'str')) out.push(this.next('a word'));
    this.expect('punct', ';');
    return out;
  }
  private oneString(): Token {
    const t = this.expect('str');
    this.expect('punct', ';');
    return t;
  }

  parse(): Csync2Config {
    while (this.peek() !== undefined) this.block(this.next('a statement'));
    return this.config;
  }

  private block(t: Token): void {
    if (this.is(t, 'kw', 'group')) return this.group(t);
    if (this.is(t, 'kw', 'prefix')) return this.prefix(t);
    if (this.is(t, 'kw', 'ignore')) {
      for (const p of this.strings()) {
        if (!['uid', 'gid', 'mod'].includes(p.text)) throw new Error(`${p.where}: unknown ignore property "${p.text}" (csync2 knows uid, gid, mod)`);
        this.config.ignore.push(p.text);
      }
      return;
    }
    const arity: Record<string, number> = { nossl: 2, database: 1, tempdir: 1, 'lock-timeout': 1, 'no-cygwin-lowercase': 0 };
    const n = t.kind === 'kw' ? arity[t.text] : undefined;
    if (n === undefined) throw new Error(`${t.where}: syntax error: "${t.text}" cannot start a statement here`);
    const args = Array.from({ length: n }, () => this.expect('str').text);
    this.expect('punct', ';');
    this.config.globals.push({ keyword: t.text, args, where: t.where });
  }

  private prefix(t: Token): void {
    const name = this.expect('str').text;
    this.expect('punct', '{');
    const rules: Csync2PrefixRule[] = [];
    while (!this.is(this.peek(), 'punct', '}')) {
      const on = this.expect('kw', 'on');
      const hostPattern = this.expect('str').text;
      this.expect('punct', ':');
      const path = this.oneString().text;
      if (!path.startsWith('/')) throw new Error(`${on.where}: prefix ${name}: "${path}" is not an absolute path (csync2 refuses it too)`);
      rules.push({ hostPattern, path: stripTrailingSlashes(path), where: on.where });
    }
    this.next('"}"');
    this.config.prefixes.push({ name, where: t.where, rules });
  }

  private group(t: Token): void {
    const named = this.is(this.peek(), 'str');
    const name = named ? this.next('a group name').text : `group_${++this.unnamedGroups}`;
    this.expect('punct', '{');
    const g: Csync2Group = { name, where: t.where, hosts: [], key: undefined, patterns: [], auto: undefined, backupDir: undefined, backupGenerations: undefined, actions: [] };
    while (!this.is(this.peek(), 'punct', '}')) this.groupStatement(g, this.next('"}"'));
    this.next('"}"');
    if (g.key === undefined) throw new Error(`${t.where}: group ${name} has no key (csync2 requires one per group)`);
    this.config.groups.push(g);
  }

  private groupStatement(g: Csync2Group, t: Token): void {
    const kw = t.kind === 'kw' ? t.text : '';
    if (kw === 'action') return void g.actions.push(this.action(t));
    if (kw === 'host') return this.hosts(g);
    if (kw === 'include' || kw === 'exclude') {
      for (const p of this.strings()) g.patterns.push({ kind: kw, pattern: stripTrailingSlashes(p.text), where: p.where });
      return;
    }
    if (kw === 'compare') {
      // csync2's grammar reads `compare a b c;` as include a, include b, compare c (comp_list
      // is built on incl_list); this keeps that.
      const words = this.strings();
      words.forEach((p, i) => g.patterns.push({ kind: i === words.length - 1 ? 'compare' : 'include', pattern: stripTrailingSlashes(p.text), where: p.where }));
      return;
    }
    const value = (): Located => {
      const v = this.oneString();
      return { value: v.text, where: t.where };
    };
    if (kw === 'key') {
      if (g.key !== undefined) throw new Error(`${t.where}: group ${g.name} has a second key (csync2 allows one)`);
      g.key = value();
    } else if (kw === 'auto') {
      if (g.auto !== undefined) throw new Error(`${t.where}: group ${g.name} has a second auto setting (csync2 allows one)`);
      g.auto = value().value;
      if (!AUTO_METHODS.includes(g.auto)) throw new Error(`${t.where}: unknown auto setting "${g.auto}" (csync2 knows ${AUTO_METHODS.join(', ')})`);
    } else if (kw === 'backup-directory') g.backupDir = value();
    else if (kw === 'backup-generations') g.backupGenerations = value();
    else throw new Error(`${t.where}: syntax error: "${t.text}" is not a group statement`);
  }

  private hosts(g: Csync2Group): void {
    let slave = false;
    for (let t = this.next('";"'); !this.is(t, 'punct', ';'); t = this.next('";"')) {
      if (this.is(t, 'punct', '(') && !slave) slave = true;
      else if (this.is(t, 'punct', ')') && slave) slave = false;
      else if (t.kind === 'str') {
        const address = this.is(this.peek(), 'punct', '@') ? (this.next('"@"'), this.expect('str').text) : undefined;
        // csync2 lower-cases both names (add_host).
        g.hosts.push({ name: t.text.toLowerCase(), address: address?.toLowerCase(), slave, where: t.where });
      } else throw new Error(`${t.where}: syntax error: unexpected "${t.text}" in a host list`);
    }
    if (slave) throw new Error(`${g.where}: group ${g.name}: "(" in a host list is never closed`);
  }

  private action(t: Token): Csync2Action {
    this.expect('punct', '{');
    const a: Csync2Action = { where: t.where, patterns: [], execs: [], logfile: undefined, doLocal: false, doLocalOnly: false };
    while (!this.is(this.peek(), 'punct', '}')) {
      const s = this.next('"}"');
      const kw = s.kind === 'kw' ? s.text : '';
      if (kw === 'pattern') a.patterns.push(...this.strings().map((p) => p.text));
      else if (kw === 'exec') a.execs.push({ words: this.strings().map((p) => p.text), where: s.where });
      else if (kw === 'logfile') a.logfile = { value: this.oneString().text, where: s.where };
      else if (kw === 'do-local' || kw === 'do-local-only') {
        this.expect('punct', ';');
        if (kw === 'do-local') a.doLocal = true;
        else a.doLocalOnly = true;
      } else throw new Error(`${s.where}: syntax error: "${s.text}" is not an action statement`);
    }
    this.next('"}"');
    return a;
  }
}

/** csync2's auto methods (set_auto). */
const AUTO_METHODS = ['none', 'first', 'younger', 'older', 'bigger', 'smaller', 'left', 'right'];

/** csync2 strips trailing slashes from patterns and prefix paths, keeping a lone "/". */
function stripTrailingSlashes(p: string): string {
  let end = p.length;
  while (end > 1 && p[end - 1] === '/') end--;
  return p.slice(0, end);
}

/**
 * Parses csync2.cfg text. Throws Error naming the line for text csync2 would refuse to parse
 * (a syntax error, a group without a key, an unknown auto or ignore value, a relative prefix path,
 * an include that cannot be read).
 */
export function parseCsync2(text: string, includes: IncludeReader): Csync2Config {
  const seen: Csync2Include[] = [];
  const toks = tokenize(text, undefined, { ...includes, seen }, 0);
  return new Parser(toks, seen).parse();
}
