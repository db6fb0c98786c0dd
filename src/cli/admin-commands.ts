// Commands that manage identity and configuration: -k, tls init, trust list|forget, config check, status.
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CsyncError } from '../core/errors.ts';
import { keyFileWarnings } from '../config/load.ts';
import { renderEffectiveConfig } from '../config/render.ts';
import { writeNodeCertificate } from '../net/cert.ts';
import { importCsync2 } from '../config/import-csync2.ts';
import type { Csync2Import } from '../config/import-csync2.ts';
import type { Command } from './args.ts';
import type { Io } from './output.ts';
import type { Runtime } from '../daemon/runtime.ts';
import { loadRefused } from '../daemon/refused-paths.ts';
import { haltOverride, loadHalts } from '../daemon/halts.ts';
import { realPathOf } from '../sync/scope.ts';
import { shellQuote } from './output.ts';

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._';

/** -k FILE: writes 64 random characters (384 bits) with mode 0600; never overwrites. */
export function commandKeygen(cmd: Command, io: Io): number {
  const file = cmd.args[0] as string;
  const bytes = randomBytes(64);
  const key = Array.from(bytes, (b) => KEY_ALPHABET[b % 64]).join('');
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CsyncError('CSYNC_IO', `key file ${JSON.stringify(file)}: ${code === 'EEXIST' ? 'already exists' : String(code)}`, {
      cause: err,
      hint: code === 'EEXIST' ? 'csync never overwrites a key; remove the file first if you really want a new key' : 'check the directory exists and is writable',
    });
  }
  try {
    writeSync(fd, `${key}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (!cmd.options.quiet) io.err(`wrote a new group key to ${file}; copy this same file to every host of the group\n`);
  return 0;
}

/** tls init: this node's self-signed certificate and key, at the configured paths. */
export async function commandTlsInit(rt: Runtime, cmd: Command, io: Io): Promise<number> {
  const cert = await writeNodeCertificate({ certPath: rt.view.tlsCert, keyPath: rt.view.tlsKey, nodeName: rt.view.self, overwrite: false });
  if (!cmd.options.quiet) io.out(`wrote ${rt.view.tlsCert} and ${rt.view.tlsKey}\nfingerprint ${cert.fingerprint}\n`);
  return 0;
}

/** trust list: pinned peer certificates. */
export function commandTrustList(rt: Runtime, cmd: Command, io: Io): number {
  const pins = rt.store.listPins();
  const configured = rt.view.config.tls.pins;
  if (cmd.options.json) {
    io.out(`${JSON.stringify({ stored: pins, configured })}\n`);
    return 0;
  }
  for (const p of pins) io.out(`${p.peer}\t${p.fingerprint}\tpinned ${new Date(p.pinnedAtMs).toISOString()}\n`);
  for (const [peer, fp] of Object.entries(configured)) io.out(`${peer}\t${fp}\tfrom tls.pins\n`);
  return 0;
}

/** trust forget PEER: drops the stored pin so the next successful authentication pins anew. */
export function commandTrustForget(rt: Runtime, cmd: Command, io: Io): number {
  const peer = cmd.args[0] as string;
  const removed = rt.store.forgetPin(peer);
  if (rt.view.config.tls.pins[peer] !== undefined) io.err(`note: ${peer} is also pinned in tls.pins of the config; edit it there\n`);
  io.out(removed ? `forgot the pinned certificate of ${peer}\n` : `no stored pin for ${peer}\n`);
  return removed ? 0 : 1;
}

/** config check: validate everything (keys too) and print the effective config for this node. */
export function commandConfigCheck(rt: Runtime, _cmd: Command, io: Io): number {
  io.out(renderEffectiveConfig(rt.view));
  for (const w of keyFileWarnings(rt.view)) io.err(`warning: ${w}\n`);
  const unpinned = rt.view.config.tls.requirePins ? Object.keys(rt.view.config.hosts).filter((h) => h !== rt.view.self && rt.view.config.tls.pins[h] === undefined) : [];
  if (unpinned.length > 0) io.err(`warning: tls.require_pins is on but ${unpinned.map((h) => JSON.stringify(h)).join(', ')} ${unpinned.length === 1 ? 'has' : 'have'} no pin in [tls.pins]: connections with ${unpinned.length === 1 ? 'it' : 'them'} are refused; see \`csync tls pins --collect\`\n`);
  return 0;
}

interface DaemonStatus {
  pid: number;
  startedAtMs: number;
  port: number;
  updatedAtMs: number;
  peers: Record<string, { connected: boolean; lastOkMs?: number; lastError?: string }>;
}

/** The daemon's status file, if a daemon for this state dir is alive. */
export function readDaemonStatus(stateDir: string): DaemonStatus | undefined {
  try {
    const st = JSON.parse(readFileSync(join(stateDir, 'daemon.json'), 'utf8')) as DaemonStatus;
    process.kill(st.pid, 0);
    return st;
  } catch {
    // No file, unreadable, or the pid is gone: no daemon is running for this state dir.
    return undefined;
  }
}

function ago(ms: number | undefined): string {
  if (ms === undefined) return 'never';
  const s = Math.round((Date.now() - ms) / 1000);
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

/** One reason `csync status` exits non-zero (also in `--json` as `attention`). */
export interface Attention {
  readonly what: 'no-daemon' | 'halted' | 'conflicts' | 'failing' | 'refused';
  readonly message: string;
}

/**
 * The exit status of `csync status`: 0 healthy, 69 no daemon runs for this state dir (nothing is
 * watched or retried), 1 anything else that needs an operator (docs/reference.md, exit statuses).
 */
export function statusExit(attention: readonly Attention[]): number {
  if (attention.some((a) => a.what === 'no-daemon')) return 69;
  return attention.length > 0 ? 1 : 0;
}

/** status: daemon, groups (halted ones first), each peer (connected, last sync, dirty, conflicts, last error). */
export function commandStatus(rt: Runtime, cmd: Command, io: Io): number {
  const dirty = rt.store.listDirty();
  const conflicts = rt.store.listConflicts();
  const daemon = readDaemonStatus(rt.stateDir);
  const halts = loadHalts(rt.stateDir).filter((h) => rt.view.groups.has(h.group));
  const groups = [...rt.view.groups.values()].map((g) => ({
    group: g.config.name,
    receiveOnly: g.receiveOnly,
    halted: halts.filter((h) => h.group === g.config.name).map((h) => ({ ...h, override: haltOverride(h) })),
    peers: g.peers.map((peer) => ({
      peer,
      dirty: dirty.filter((d) => d.peer === peer).length,
      failing: dirty.filter((d) => d.peer === peer && d.lastError !== undefined).length,
      lastError: dirty.find((d) => d.peer === peer && d.lastError !== undefined)?.lastError,
      conflicts: conflicts.filter((c) => c.peer === peer).length,
      connected: daemon?.peers[peer]?.connected ?? false,
      lastSyncMs: daemon?.peers[peer]?.lastOkMs,
      linkError: daemon?.peers[peer]?.lastError,
    })),
  }));
  const pendingActions = rt.store.listPendingActions().length;
  const refused = loadRefused(rt.stateDir);
  const failing = dirty.filter((d) => d.lastError !== undefined && !d.lastError.startsWith('conflict')).length;
  // Held here (a peer's version waits) or refused by a peer (this node's version waits): both need -f.
  const inConflict = new Set([...conflicts.map((c) => c.path), ...dirty.filter((d) => d.lastError?.startsWith('conflict')).map((d) => d.path)]).size;
  const attention: Attention[] = [
    ...(daemon ? [] : [{ what: 'no-daemon' as const, message: 'no daemon runs for this state dir: nothing is watched or retried (start it: systemctl start csync)' }]),
    ...halts.map((h) => ({ what: 'halted' as const, message: `group ${h.group} halted: ${h.message}` })),
    ...(inConflict ? [{ what: 'conflicts' as const, message: `${inConflict} path(s) in conflict: settle each with \`csync -f PATH\` on the node whose version should win` }] : []),
    ...(failing ? [{ what: 'failing' as const, message: `${failing} dirty entr${failing === 1 ? 'y' : 'ies'} failing to reach a peer (see the peer lines)` }] : []),
    ...(refused.length ? [{ what: 'refused' as const, message: `${refused.length} path(s) not synced: csync cannot carry their names (rename or exclude them)` }] : []),
  ];
  const exit = statusExit(attention);
  if (cmd.options.json) {
    io.out(`${JSON.stringify({ node: rt.view.self, healthy: exit === 0, exitStatus: exit, attention, daemon: daemon ? { pid: daemon.pid, port: daemon.port, startedAtMs: daemon.startedAtMs } : null, groups, pendingActions, conflicts: conflicts.map((c) => ({ path: c.path, realPath: realPathOf(rt.view, c.path), peer: c.peer })), refused })}\n`);
    return exit;
  }
  io.out(`node ${rt.view.self}: daemon ${daemon ? `running (pid ${daemon.pid}, port ${daemon.port}, up since ${new Date(daemon.startedAtMs).toISOString()})` : 'not running'}\n`);
  if (pendingActions > 0) io.out(`pending actions: ${pendingActions}\n`);
  for (const g of groups) {
    io.out(`group ${g.group}${g.receiveOnly ? ' (receive only)' : ''}${g.halted.length ? ': HALTED' : ''}\n`);
    for (const h of g.halted) {
      io.out(`  halted since ${new Date(h.sinceMs).toISOString()}: ${h.message}\n  hint: ${h.hint}\n  override, once the deletion is intended: ${h.override}\n`);
    }
    for (const p of g.peers) {
      const link = daemon ? `${p.connected ? 'connected' : 'not connected'}, last sync ${ago(p.lastSyncMs)}, ` : '';
      io.out(`  ${p.peer}: ${link}${p.dirty} dirty${p.failing ? ` (${p.failing} failing: ${p.lastError ?? ''})` : ''}, ${p.conflicts} conflicts${p.linkError ? `, last error: ${p.linkError}` : ''}\n`);
    }
  }
  for (const c of conflicts) io.out(`conflict ${realPathOf(rt.view, c.path)} with ${c.peer} (settle: csync -f ${shellQuote(realPathOf(rt.view, c.path))})\n`);
  if (refused.length > 0) io.out(`refused: ${refused.length} path(s) not synced, csync cannot carry their names (rename or exclude them)\n`);
  for (const r of refused) io.out(`refused ${JSON.stringify(r.path)}: ${r.reason}\n`);
  io.out(exit === 0 ? 'healthy\n' : `needs attention (exit ${exit}):\n${attention.map((a) => `  ${a.message}\n`).join('')}`);
  return exit;
}

/** import-csync2 FILE: prints the converted TOML on stdout and what was not converted on stderr. */
export function commandImportCsync2(cmd: Command, io: Io): number {
  const file = cmd.args[0] as string;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CsyncError('CSYNC_USAGE', `csync2 config ${JSON.stringify(file)}: cannot read it`, { cause: err, hint: 'give the path of an existing csync2.cfg' });
  }
  let result: Csync2Import;
  try {
    result = importCsync2(text, { path: resolve(file), readFile: (path) => readFileSync(path, 'utf8') });
  } catch (err) {
    throw new CsyncError('CSYNC_CONFIG_INVALID', `csync2 config ${JSON.stringify(file)}: ${err instanceof Error ? err.message : String(err)}`, {
      hint: 'fix that line (csync2 itself would reject it too), then run the import again',
    });
  }
  io.out(result.toml);
  for (const n of result.notes) io.err(`note: ${n}\n`);
  io.err(`converted ${file}${result.notes.length ? ` with ${result.notes.length} note(s) above` : ''}; review it, then run \`csync config check\`\n`);
  return 0;
}
