// Content identity: xxh64 (xxhash-wasm), streamed, as 16 lower-case hex digits. Deterministic, so tests use it as is.
import xxhash from 'xxhash-wasm';

/** An incremental hash of one content stream. */
export interface StreamHash {
  update(chunk: Uint8Array): void;
  /** The final hash as 16 lower-case hex digits. */
  digestHex(): string;
}

/** Hash functions for file content. Obtain one with loadHasher(). */
export interface Hasher {
  /** Hash of a whole buffer. */
  hashBytes(bytes: Uint8Array): string;
  /** Starts an incremental hash. */
  start(): StreamHash;
}

let loaded: Promise<Hasher> | undefined;

/** Loads the WebAssembly hasher once per process and returns it. */
export function loadHasher(): Promise<Hasher> {
  loaded ??= xxhash().then((api) => ({
    hashBytes: (bytes: Uint8Array) => toHex(api.h64Raw(bytes)),
    start: () => {
      const h = api.create64();
      return {
        update: (chunk: Uint8Array) => {
          h.update(chunk);
        },
        digestHex: () => toHex(h.digest()),
      };
    },
  }));
  return loaded;
}

function toHex(n: bigint): string {
  return n.toString(16).padStart(16, '0');
}
