// A strict parser of the Prometheus text exposition format (0.0.4) for tests: every line is a HELP,
// a TYPE or a sample of a family declared by both; names, label syntax, escapes and values are
// checked; a series appears once. Throws an Error naming the line on anything else.

/** One parsed exposition: families by name, and every sample value by its series key. */
export interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly help: ReadonlyMap<string, string>;
  /** `name{a="x",b="y"}` (labels sorted by name, values unescaped) → value. */
  readonly samples: ReadonlyMap<string, number>;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*';
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Readonly<Record<string, readonly string[]>> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count', ''], counter: [''], gauge: [''], untyped: [''] };

/** Parses `text`; throws on the first line that is not valid exposition format. */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples = new Map<string, number>();
  if (!text.endsWith('\n')) throw new Error('exposition does not end with a newline');
  text.slice(0, -1).split('\n').forEach((line, i) => {
    const at = (what: string): Error => new Error(`line ${i + 1}: ${what}: ${JSON.stringify(line)}`);
    if (line === '') return;
    const meta = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line);
    if (meta !== null) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (kind === 'HELP') {
        if (help.has(name)) throw at('second HELP');
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw at('bad escape in HELP');
        help.set(name, rest);
      } else {
        if (!TYPES.has(rest) || types.has(name)) throw at('bad or second TYPE');
        types.set(name, rest);
      }
      return;
    }
    if (line.startsWith('#')) throw at('comment that is neither HELP nor TYPE');
    const m = new RegExp(`^(${NAME})(\\{(.*)\\})? (\\S+)( -?\\d+)?$`).exec(line);
    if (m === null) throw at('not a sample');
    const name = m[1] as string;
    const family = familyOf(name, types);
    if (family === undefined) throw at('sample without a TYPE before it');
    if (!help.has(family)) throw at('sample without a HELP before it');
    const labels = parseLabels(m[3] ?? '', at);
    const value = parseValue(m[4] as string, at);
    const key = seriesKey(name, labels);
    if (samples.has(key)) throw at('duplicate series');
    samples.set(key, value);
  });
  return { types, help, samples };
}

/** The series key of `name` with `labels` (as Exposition.samples keys it). */
export function seriesKey(name: string, labels: Readonly<Record<string, string>> = {}): string {
  const parts = Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return parts.length ? `${name}{${parts.join(',')}}` : name;
}

/** The value of a series, or `fallback` when the exposition has no such series. */
export function valueOf(e: Exposition, name: string, labels: Readonly<Record<string, string>> = {}, fallback?: number): number {
  const v = e.samples.get(seriesKey(name, labels));
  if (v !== undefined) return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`no series ${seriesKey(name, labels)}`);
}

function familyOf(name: string, types: ReadonlyMap<string, string>): string | undefined {
  for (const [family, type] of types) {
    if ((SUFFIXES[type] ?? ['']).some((s) => family + s === name)) return family;
  }
  return undefined;
}

function parseLabels(text: string, at: (what: string) => Error): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = new RegExp(`(${LABEL})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"(,|$)`, 'y');
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (m === null) throw at('bad label syntax or escape');
    const [, name, raw] = m as unknown as [string, string, string];
    if (name in labels) throw at('duplicate label');
    labels[name] = raw.replace(/\\(["\\n])/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    pos = re.lastIndex;
  }
  return labels;
}

/** A value as Prometheus reads it (Go's ParseFloat: NaN and Inf in any case; prom-client writes "Nan"). */
function parseValue(text: string, at: (what: string) => Error): number {
  if (/^nan$/i.test(text)) return NaN;
  if (/^\+?inf$/i.test(text)) return Infinity;
  if (/^-inf$/i.test(text)) return -Infinity;
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw at('bad value');
  return Number(text);
}
