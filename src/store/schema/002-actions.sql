-- 002-actions: the persisted queue of action commands (docs/daemon.md, "Actions"). Applied once by
-- src/store/migrate.ts inside one IMMEDIATE transaction, which then sets PRAGMA user_version = 2.
-- Never edit an applied migration: add 003-*.sql instead.

-- pending_actions: actions selected for a batch that have not finished running yet. A row is
-- inserted before its command starts and deleted only after the command ended (any exit status,
-- a timeout included), so a crash in between re-runs the action at the next start, never skips it.
-- Invariants:
--   * id is assigned by SQLite in insertion order; replay runs rows by ascending id.
--   * group_name and action_index name [[groups.NAME.actions]][action_index] in the config that
--     selected the action; a later config may no longer have it (the executor then drops the row).
--   * paths is a JSON array of at least one absolute local path, de-duplicated and sorted.
--   * created_at_ms is when the batch was enqueued, ms since the epoch.
CREATE TABLE pending_actions (
  id            INTEGER NOT NULL PRIMARY KEY,
  group_name    TEXT    NOT NULL,
  action_index  INTEGER NOT NULL CHECK (action_index >= 0),
  paths         TEXT    NOT NULL CHECK (json_valid(paths) AND json_type(paths) = 'array'),
  created_at_ms INTEGER NOT NULL
) STRICT;
