-- 004-mtime-micros: modification times are stored in microseconds, not nanoseconds. Applied once by
-- src/store/migrate.ts inside one IMMEDIATE transaction, which then sets PRAGMA user_version = 4.
-- Never edit an applied migration: add 005-*.sql instead.
--
-- Why (issue 11 item 4): a signed 64-bit count of nanoseconds ends in April 2262, yet file systems
-- hold later times (`touch -d 2300-01-01 f` on ext4, up to 2446), and the protocol carries up to 20
-- digits of nanoseconds (year 5138). The value was refused by the database ("The bound string,
-- buffer, or bigint is too big") and that one file failed every later check. csync keeps mtimes to
-- the microsecond anyway (Node sets times as double seconds; scanner/scan.ts toMicros), so storing
-- microseconds loses nothing and reaches year 294,247.
-- Invariants (replacing 001's mtime_ns rule):
--   * files.mtime_us and conflicts.remote_mtime_us are microseconds since the epoch, signed 64-bit;
--     FileMeta.mtimeNs = mtime_us × 1000 (sqlite-store.ts converts both ways; a time beyond the
--     range is refused for that entry alone, CSYNC_STORE_FAILED naming the path).
--   * Existing values are divided by 1000, truncating toward zero as toMicros() does; they were
--     recorded through toMicros, so nothing changes but the unit.
ALTER TABLE files RENAME COLUMN mtime_ns TO mtime_us;
UPDATE files SET mtime_us = mtime_us / 1000;
ALTER TABLE conflicts RENAME COLUMN remote_mtime_ns TO remote_mtime_us;
UPDATE conflicts SET remote_mtime_us = remote_mtime_us / 1000;
