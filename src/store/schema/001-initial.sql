-- 001-initial: the first csync state schema. Applied once by src/store/migrate.ts inside one
-- IMMEDIATE transaction, which then sets PRAGMA user_version = 1. Never edit an applied migration:
-- add 002-*.sql instead. All tables are STRICT: a value of the wrong type is an error, not a cast.
-- Paths are LogicalPaths ("<root>" or "<root>/<rel>") compared BINARY, i.e. bytewise on UTF-8, so
-- "a/b" < "a/b/c" and the subtree of P is exactly [P || '/', P || '0') ('0' is '/' + 1).

-- files: the last state this node recorded for each logical path (one row per path).
-- Invariants:
--   * kind is one of 'file' | 'dir' | 'symlink' | 'deleted'; 'deleted' rows are tombstones that
--     keep the version so a deletion can be propagated and compared like any other change.
--   * target is non-NULL only for 'symlink'; hash (16 lower-case hex digits, xxh64) only for 'file'.
--   * mtime_ns is nanoseconds since the epoch as a signed 64-bit integer; it is read back with
--     safeIntegers so values above 2^53 survive (bigint in FileMeta.mtimeNs).
--   * version is formatVersion(VersionVector): normalised (sorted, no zero counters), so two equal
--     vectors have equal text and clearDirty can compare versions with '='.
--   * changed_at_ms is the origin node's clock when it detected the change (ms since the epoch).
-- The kind CHECK is written with OR, not IN (...): SQLite evaluates an IN list in a CHECK through an
-- ephemeral table per row, which made bulk puts ~60% slower (native-bench/store-upsert.ts).
CREATE TABLE files (
  path          TEXT    NOT NULL PRIMARY KEY,
  kind          TEXT    NOT NULL CHECK (kind = 'file' OR kind = 'dir' OR kind = 'symlink' OR kind = 'deleted'),
  size          INTEGER NOT NULL CHECK (size >= 0),
  mtime_ns      INTEGER NOT NULL,
  mode          INTEGER NOT NULL CHECK (mode BETWEEN 0 AND 4095),
  uid           INTEGER NOT NULL,
  gid           INTEGER NOT NULL,
  target        TEXT,
  hash          TEXT,
  version       TEXT    NOT NULL,
  origin        TEXT    NOT NULL,
  changed_at_ms INTEGER NOT NULL
) STRICT;

-- dirty: pending deliveries. A row (path, peer) means "peer has not acknowledged this node's
-- current state of path". Invariants:
--   * at most one row per (path, peer); re-marking upserts it, and force is sticky (OR of old and
--     new) until the row is cleared; re-marking resets last_error to NULL.
--   * a row is deleted only by clearDirty when files.version still equals the delivered version,
--     or by remove(path); a newer local change therefore stays dirty.
--   * no foreign key to files: a row may be marked before its files row is written in the same
--     transaction; remove(path) deletes both explicitly.
--   * force and last_error describe only the latest attempt; marked_at_ms is ms since the epoch.
CREATE TABLE dirty (
  path         TEXT    NOT NULL,
  peer         TEXT    NOT NULL,
  force        INTEGER NOT NULL CHECK (force IN (0, 1)),
  last_error   TEXT,
  marked_at_ms INTEGER NOT NULL,
  PRIMARY KEY (path, peer)
) STRICT;

-- Lets listDirty(peer) avoid a full scan on a node with many peers.
CREATE INDEX dirty_by_peer ON dirty (peer, path);

-- conflicts: unresolved conflicts between this node's state of path and peer's. Invariants:
--   * at most one row per (path, peer); a newer detection replaces the row.
--   * remote_* columns hold the peer's FileState at detection time, with the same rules as the
--     columns of files (remote path = path).
--   * rows are removed by clearConflicts (resolution) or remove(path).
CREATE TABLE conflicts (
  path                 TEXT    NOT NULL,
  peer                 TEXT    NOT NULL,
  remote_kind          TEXT    NOT NULL
    CHECK (remote_kind = 'file' OR remote_kind = 'dir' OR remote_kind = 'symlink' OR remote_kind = 'deleted'),
  remote_size          INTEGER NOT NULL CHECK (remote_size >= 0),
  remote_mtime_ns      INTEGER NOT NULL,
  remote_mode          INTEGER NOT NULL CHECK (remote_mode BETWEEN 0 AND 4095),
  remote_uid           INTEGER NOT NULL,
  remote_gid           INTEGER NOT NULL,
  remote_target        TEXT,
  remote_hash          TEXT,
  remote_version       TEXT    NOT NULL,
  remote_origin        TEXT    NOT NULL,
  remote_changed_at_ms INTEGER NOT NULL,
  detected_at_ms       INTEGER NOT NULL,
  PRIMARY KEY (path, peer)
) STRICT;

-- pins: the certificate each peer presented first (trust on first use) or was pinned by an
-- operator. Invariants: one row per peer; fingerprint is "sha256:" followed by 64 lower-case hex
-- digits of the certificate's DER; a changed certificate is refused elsewhere, never re-pinned here
-- silently (setPin replaces only when the caller decided to).
CREATE TABLE pins (
  peer         TEXT    NOT NULL PRIMARY KEY,
  fingerprint  TEXT    NOT NULL CHECK (length(fingerprint) = 71 AND fingerprint GLOB 'sha256:*'),
  pinned_at_ms INTEGER NOT NULL
) STRICT;
