// Version vectors: comparison, merge and bump. Pure.
import type { NodeName, VersionVector } from './types.ts';

/** How version `a` relates to version `b`. */
export type VersionOrder = 'equal' | 'newer' | 'older' | 'concurrent';

/**
 * Largest counter accepted from a peer (protocol/messages.ts). 2^52: no node makes that many
 * changes, and 2^52 more local bumps still stay exact doubles (below 2^53), so a stored version can
 * always be read back (issue 10 item 7).
 */
export const MAX_VERSION_COUNTER = 2 ** 52;

/** Compares two vectors: 'newer' when `a` dominates `b`, 'older' when `b` dominates `a`. */
export function compareVersions(a: VersionVector, b: VersionVector): VersionOrder {
  let aAhead = false;
  let bAhead = false;
  for (const node of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[node] ?? 0;
    const y = b[node] ?? 0;
    if (x > y) aAhead = true;
    else if (y > x) bAhead = true;
  }
  if (aAhead && bAhead) return 'concurrent';
  if (aAhead) return 'newer';
  if (bAhead) return 'older';
  return 'equal';
}

/** Pointwise maximum: a vector that dominates or equals both inputs. */
export function mergeVersions(a: VersionVector, b: VersionVector): VersionVector {
  const out: Record<NodeName, number> = { ...a };
  for (const [node, n] of Object.entries(b)) if (n > (out[node] ?? 0)) out[node] = n;
  return normaliseVersion(out);
}

/** `v` with `node`'s counter increased by one: the version of a local change. */
export function bumpVersion(v: VersionVector, node: NodeName): VersionVector {
  return normaliseVersion({ ...v, [node]: (v[node] ?? 0) + 1 });
}

/** Drops zero counters and sorts keys, so equal vectors serialise identically. */
export function normaliseVersion(v: VersionVector): VersionVector {
  const out: Record<NodeName, number> = {};
  for (const node of Object.keys(v).sort()) {
    const n = v[node] ?? 0;
    if (n > 0) out[node] = n;
  }
  return out;
}

/** Canonical text form, e.g. "web1:3,web2:1" ("" for the empty vector); stable for equality checks. */
export function formatVersion(v: VersionVector): string {
  return Object.entries(normaliseVersion(v))
    .map(([node, n]) => {
      // parseVersion would refuse the text: never write what cannot be read back.
      if (!Number.isSafeInteger(n)) throw new Error(`bug: version counter ${n} of ${JSON.stringify(node)} is not an exact integer`);
      return `${node}:${n}`;
    })
    .join(',');
}

/** Inverse of formatVersion; throws Error('bug: …') on malformed text (stored text is trusted). */
export function parseVersion(text: string): VersionVector {
  const out: Record<NodeName, number> = {};
  if (text === '') return out;
  for (const part of text.split(',')) {
    const i = part.lastIndexOf(':');
    const n = Number(part.slice(i + 1));
    if (i <= 0 || !Number.isSafeInteger(n) || n <= 0) throw new Error(`bug: malformed version text ${JSON.stringify(text)}`);
    out[part.slice(0, i)] = n;
  }
  return normaliseVersion(out);
}
