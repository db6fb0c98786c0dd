// Certificate pinning decisions: compares a peer's presented fingerprint with a configured or stored pin.
// Pure: no node imports, no I/O. Storing a new pin is the caller's job (after the group key is proven).

import { CsyncError } from '../core/errors.ts';

/** The outcome of checking a peer's certificate fingerprint against its pin. */
export type PinCheck =
  | { readonly kind: 'ok' }
  | { readonly kind: 'pin-new' }
  | { readonly kind: 'mismatch'; readonly expected: string };

/**
 * Decides whether `fingerprint` ("sha256:<hex>") is acceptable for `peer`.
 * A configured pin (`tls.pins`) takes precedence over a stored one (trust on first use); when it is
 * present the stored pin is ignored. Without either the result is `pin-new`: the caller pins the
 * fingerprint only after the peer has proven the group key. Comparison ignores letter case.
 */
export function checkPin(opts: {
  peer: string;
  fingerprint: string;
  configured?: string | undefined;
  stored?: string | undefined;
}): PinCheck {
  const expected = opts.configured ?? opts.stored;
  if (expected === undefined) return { kind: 'pin-new' };
  if (expected.toLowerCase() === opts.fingerprint.toLowerCase()) return { kind: 'ok' };
  return { kind: 'mismatch', expected };
}

/**
 * Builds the error for a peer whose certificate differs from its pin (code CSYNC_CERT_CHANGED).
 * The hint names `csync trust forget <peer>`, the way to accept a deliberately replaced certificate.
 */
export function pinMismatchError(peer: string, expected: string, got: string): CsyncError {
  return new CsyncError(
    'CSYNC_CERT_CHANGED',
    `peer ${JSON.stringify(peer)}: certificate changed: expected ${expected}, got ${got}`,
    {
      hint:
        `if the certificate of ${JSON.stringify(peer)} was replaced on purpose, run ` +
        `\`csync trust forget ${peer}\` (or update tls.pins); otherwise treat this as an attack`,
    },
  );
}
