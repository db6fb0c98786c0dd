// Wire messages: the discriminated union every peer exchange uses, its wire form, and validation.
// Pure (Uint8Array only). Every inbound frame passes validateMessage() in PeerLink before anything else.
import type { EntryKind } from '../core/types.ts';

/** Bumped on any incompatible change to frames or messages (see protocol/README.md). */
export const PROTOCOL_VERSION = 1;

/** The wire form of a FileState: bigint as decimal string, version as an object. */
export interface WireState {
  readonly kind: EntryKind;
  readonly size: number;
  /** Nanoseconds since the epoch, as a decimal string. */
  readonly mtimeNs: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly target?: string;
  readonly hash?: string;
  readonly version: Readonly<Record<string, number>>;
  readonly origin: string;
  readonly changedAtMs: number;
}

/** Outcome of an offer at the receiver. */
export type OfferResult =
  | 'applied' // written (content, metadata or deletion); `version` is the receiver's new version
  | 'have' // the receiver's version is equal or newer; nothing written
  | 'merged' // concurrent but identical: versions merged, nothing written
  | 'need' // send the content (data frames follow from the sender with the same id)
  | 'conflict' // concurrent and different; held (auto=none) or lost by the sender under a policy
  | 'rejected'; // refused (path unsafe, excluded, receive_only, safety rail, I/O error): see `reason`

/** All messages. `id` pairs a request with its reply within one link. */
export type Message =
  | { readonly type: 'hello'; readonly protocol: number; readonly node: string; readonly groups: readonly string[] }
  | { readonly type: 'auth'; readonly group: string; readonly mac: Uint8Array }
  | { readonly type: 'auth-result'; readonly accepted: readonly string[]; readonly rejected: readonly string[] }
  | {
      readonly type: 'offer';
      readonly id: number;
      readonly group: string;
      readonly root: string;
      readonly rel: string;
      readonly state: WireState;
      readonly force: boolean;
      /** Whole content inline (small files only); otherwise the receiver answers 'need'. */
      readonly content?: Uint8Array;
    }
  | {
      readonly type: 'offer-reply';
      readonly id: number;
      readonly result: OfferResult;
      /** The receiver's state after handling the offer (absent if it has none). */
      readonly state?: WireState;
      readonly reason?: string;
    }
  | { readonly type: 'data'; readonly id: number; readonly offset: number; readonly last: boolean; readonly bytes: Uint8Array }
  | { readonly type: 'list'; readonly id: number; readonly group: string; readonly root: string; readonly rel: string }
  | {
      readonly type: 'list-reply';
      readonly id: number;
      readonly entries: readonly { readonly rel: string; readonly state: WireState }[];
      readonly done: boolean;
    }
  | { readonly type: 'ping'; readonly id: number }
  | { readonly type: 'pong'; readonly id: number }
  | { readonly type: 'error'; readonly id?: number; readonly code: string; readonly message: string }
  | { readonly type: 'bye' };

/** Largest frame body accepted, in bytes (checked before buffering). */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** Largest content carried inline in an offer or in one data frame. */
export const MAX_CHUNK_BYTES = 1024 * 1024;
