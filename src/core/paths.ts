// Validation of paths that come from config, the filesystem or a peer. Pure: string in, RelPath or CsyncError out.
import { CsyncError } from './errors.ts';
import type { RelPath } from './types.ts';

/** Longest RelPath accepted, in UTF-16 code units (Linux PATH_MAX is 4096 bytes). */
export const MAX_REL_PATH_LENGTH = 4096;

const UTF8 = new TextEncoder();

/**
 * Validates and normalises a peer- or user-supplied relative path. Accepts '' (the root) and
 * 'a/b/c'; strips a single trailing '/'. Throws CSYNC_PATH_UNSAFE for '..' or '.' components,
 * absolute paths, empty components, NUL, backslashes, control characters or excessive length.
 * Idempotent: toRelPath(toRelPath(x)) === toRelPath(x).
 */
export function toRelPath(raw: string): RelPath {
  const unsafe = (why: string): CsyncError =>
    new CsyncError('CSYNC_PATH_UNSAFE', `path ${JSON.stringify(raw.slice(0, 200))}: ${why}`, {
      hint: 'paths must stay inside the group root; a peer sending this is misbehaving or hostile',
    });
  if (typeof raw !== 'string') throw unsafe('not a string');
  if (raw.length > MAX_REL_PATH_LENGTH) throw unsafe('too long');
   
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw unsafe('contains NUL or a control character');
  if (raw.includes('\\')) throw unsafe('contains a backslash');
  if (raw.startsWith('/')) throw unsafe('is absolute');
  const trimmed = raw.endsWith('/') ? raw.slice(0, -1) : raw;
  if (trimmed === '') return '' as RelPath;
  for (const part of trimmed.split('/')) {
    if (part === '') throw unsafe('has an empty component');
    if (part === '..') throw unsafe("contains '..'");
    if (part === '.') throw unsafe("contains '.'");
    if (UTF8.encode(part).length > 255) throw unsafe('has a component longer than 255 bytes');
  }
  return trimmed as RelPath;
}

/** The parent of a RelPath ('' for a top-level entry); undefined for the root itself. */
export function parentRel(rel: RelPath): RelPath | undefined {
  if (rel === '') return undefined;
  const i = rel.lastIndexOf('/');
  return (i < 0 ? '' : rel.slice(0, i)) as RelPath;
}

/** A name toRelPath accepts as one component, checked cheaply (≤ 85 UTF-16 units is ≤ 255 bytes). */
const PLAIN_NAME = /^[^/\\\u0000-\u001f\u007f]{1,85}$/;

/**
 * Joins a RelPath and one name, validating the name (a scan calls this for every entry, so a plain
 * name is checked on its own; anything else goes through toRelPath for the full check and message).
 */
export function childRel(rel: RelPath, name: string): RelPath {
  const joined = rel === '' ? name : `${rel}/${name}`;
  if (PLAIN_NAME.test(name) && name !== '.' && name !== '..' && joined.length <= MAX_REL_PATH_LENGTH) return joined as RelPath;
  return toRelPath(joined);
}

/** Every ancestor of `rel` from the root down, excluding `rel` itself: 'a/b/c' → ['', 'a', 'a/b']. */
export function ancestorsRel(rel: RelPath): RelPath[] {
  if (rel === '') return [];
  const parts = rel.split('/');
  const out: RelPath[] = ['' as RelPath];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/') as RelPath);
  return out;
}
