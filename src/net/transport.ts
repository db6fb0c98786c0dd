// The Transport port: an authenticated-later, ordered, reliable stream of frames between two nodes.
// It does not know message types; PeerLink (net/peer-link.ts) speaks the protocol over it.

/** A bidirectional frame pipe. Implementations: TlsTransport (node:tls), memoryTransportPair(). */
export interface Transport {
  /**
   * Sends one frame body (an encoded message, protocol/messages.ts). The transport adds whatever
   * framing it needs (TlsTransport: protocol/frame.ts length prefix). Resolves when the frame is
   * accepted without exceeding the stream's buffer (backpressure); rejects once the transport is closed.
   */
  send(frame: Uint8Array): Promise<void>;
  /**
   * The frame bodies received, in order. Ends when the peer closes; throws
   * CsyncError('CSYNC_PROTO_INVALID_FRAME') on an oversized or malformed frame. Iterate only once.
   */
  frames(): AsyncIterable<Uint8Array>;
  /**
   * 32 bytes of keying material exported from the session (RFC 5705/8446 exporter with label
   * "EXPORTER-csync-auth"), identical on both ends of one session and different for every session.
   */
  keyingMaterial(): Uint8Array;
  /** "sha256:<hex>" of the peer's certificate DER, or undefined when there is none (memory pairs). */
  peerFingerprint(): string | undefined;
  /**
   * Told by PeerLink once the peer has proven a group key bound to this session. Until then an
   * adapter that reads from the network accepts frame bodies of at most PRE_AUTH_MAX_FRAME_BYTES
   * (protocol/frame.ts) and may close the connection when it stays unauthenticated too long; from
   * the next frame on it accepts up to MAX_FRAME_BYTES and stops counting it as unauthenticated.
   * Idempotent. Required (not optional) so that a wrapping Transport cannot silently drop it.
   */
  peerAuthenticated(): void;
  /** A label for logs, e.g. "127.0.0.1:30865". */
  readonly remoteLabel: string;
  /** Closes both directions. Idempotent. Pending send() calls reject. */
  close(): void;
}
