// Finds the source line of a config key path ("groups.web.actions[0].exec") in TOML text.
// Pure and approximate: tracks `[table]`/`[[array]]` headers and `key =` lines, which is what
// a hand-written csync.toml uses. Inline tables and arrays resolve to the line of their key.

/** Key path → 1-based line, built once per file by indexKeyLines(). */
export type KeyLineIndex = ReadonlyMap<string, number>;

const KEY_PART = String.raw`(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')`;
const KEY_LINE = new RegExp(String.raw`^(${KEY_PART}(?:\s*\.\s*${KEY_PART})*)\s*=`);
const ARRAY_HEADER = /^\[\[\s*([^\]]+?)\s*\]\]/;
const TABLE_HEADER = /^\[\s*([^\]]+?)\s*\]/;

/** Splits a dotted TOML key into its parts, unquoting quoted parts: 'a."b.c"' → ['a', 'b.c']. */
export function splitTomlKey(key: string): string[] {
  const parts: string[] = [];
  const re = new RegExp(`\\s*(${KEY_PART})\\s*(?:\\.|$)`, 'gy');
  for (let m = re.exec(key); m !== null && m[0] !== ''; m = re.exec(key)) {
    const part = m[1] as string;
    parts.push(/^["']/.test(part) ? part.slice(1, -1) : part);
  }
  return parts;
}

/** Joins a key path and a child key: ('groups.web', 'hosts') → 'groups.web.hosts'. */
export function joinKeyPath(base: string, key: string): string {
  return base === '' ? key : `${base}.${key}`;
}

/** Indexes every table header and `key =` line of `text` by its full key path (first wins). */
export function indexKeyLines(text: string): KeyLineIndex {
  const index = new Map<string, number>();
  const arrayCounts = new Map<string, number>();
  const set = (path: string, line: number): void => {
    if (!index.has(path)) index.set(path, line);
  };
  let table = '';
  let inMultiline = false;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    const wasInMultiline = inMultiline;
    // A line with an odd number of triple quotes opens or closes a multi-line string.
    if (((line.match(/"""|'''/g) ?? []).length & 1) === 1) inMultiline = !inMultiline;
    if (wasInMultiline) return;
    let m = ARRAY_HEADER.exec(line);
    if (m !== null) {
      const name = splitTomlKey(m[1] as string).join('.');
      const n = arrayCounts.get(name) ?? 0;
      arrayCounts.set(name, n + 1);
      table = `${name}[${n}]`;
      set(table, i + 1);
      return;
    }
    m = TABLE_HEADER.exec(line);
    if (m !== null) {
      table = splitTomlKey(m[1] as string).join('.');
      set(table, i + 1);
      return;
    }
    m = KEY_LINE.exec(line);
    if (m !== null) set(joinKeyPath(table, splitTomlKey(m[1] as string).join('.')), i + 1);
  });
  return index;
}

/**
 * The line of `keyPath`, or of its nearest ancestor found in the index ('groups.web.hosts[1]'
 * falls back to 'groups.web.hosts', then 'groups.web'). Undefined when nothing matches.
 */
export function lineOf(index: KeyLineIndex, keyPath: string): number | undefined {
  let path = keyPath;
  while (path !== '') {
    const line = index.get(path);
    if (line !== undefined) return line;
    const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
    path = cut < 0 ? '' : path.slice(0, cut);
  }
  return undefined;
}
