// Commands that manage identity and configuration: -k, tls init, trust list|forget, config check, status.
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
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
import { buildSummary, readDaemonFacts } from '../daemon/summary.ts';
import type { NodeSummary } from '../daemon/summary.ts';
import { askStatus, clusterExit, collectClusterStatus, STATUS_TIMEOUT_MS } from '../daemon/cluster-status.ts';
import type { ClusterRow } from '../daemon/cluster-status.ts';
import { dialPeer } from '../daemon/peers.ts';
import { loadTlsMaterial } from '../daemon/server.ts';

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

function ago(ms: number | null | undefined): string {
  if (ms === undefined || ms === null) return 'never';
  const s = Math.round((Date.now() - ms) / 1000);
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

/** status: daemon, groups (halted ones with the override), each peer, conflicts, and what needs attention. */
export async function commandStatus(rt: Runtime, cmd: Command, io: Io): Promise<number> {
  if (cmd.options.cluster) return commandClusterStatus(rt, cmd, io);
  const s = buildSummary({ view: rt.view, store: rt.store, stateDir: rt.stateDir, daemon: readDaemonFacts(rt.stateDir) });
  if (cmd.options.json) {
    io.out(`${JSON.stringify({ ...s, healthy: s.exitStatus === 0 })}\n`);
    return s.exitStatus;
  }
  io.out(renderSummary(s));
  return s.exitStatus;
}

/** status --cluster: this node and every peer, each asked over its own authenticated link. */
async function commandClusterStatus(rt: Runtime, cmd: Command, io: Io): Promise<number> {
  const tls = loadTlsMaterial(rt);
  const timeoutMs = cmd.options.timeoutMs ?? STATUS_TIMEOUT_MS;
  const ask = async (peer: string): Promise<string> => {
    const { link } = await dialPeer(rt, tls, peer);
    try {
      return await askStatus(link, timeoutMs);
    } finally {
      link.close();
    }
  };
  const rows = await collectClusterStatus(rt, { ask, local: readDaemonFacts(rt.stateDir) });
  const exit = clusterExit(rows);
  if (cmd.options.json) io.out(`${JSON.stringify({ exitStatus: exit, healthy: exit === 0, nodes: rows })}\n`);
  else io.out(renderFleet(rows));
  return exit;
}

/** The fleet table: one row per node, the columns an operator scans for, then what needs attention. */
export function renderFleet(rows: readonly ClusterRow[], nowMs = Date.now()): string {
  const head = ['NODE', 'DAEMON', 'VERSION', 'DIRTY', 'FAILING', 'CONFLICTS', 'HALTED', 'LAST CHECK', 'ACTIONS', 'STATE'];
  const body = rows.map((r) => {
    const s = r.summary;
    if (!r.reachable || s === undefined) return [r.node, '-', '-', '-', '-', '-', '-', '-', '-', `unreachable: ${r.error ?? ''}`];
    const peers = s.groups.flatMap((g) => g.peers);
    const sum = (f: (p: (typeof peers)[number]) => number): string => String(peers.reduce((n, p) => n + f(p), 0));
    const c = s.lastFullCheck;
    return [
      s.node,
      s.daemon ? `up ${agoShort(s.daemon.startedAtMs, nowMs)}` : 'down',
      s.version,
      sum((p) => p.dirty),
      sum((p) => p.failing),
      String(s.conflicts.length),
      String(s.groups.filter((g) => g.halted.length > 0).length),
      c ? `${agoShort(c.atMs, nowMs)} ago${c.problems || c.halted ? ' (problems)' : ''}` : 'never',
      `${s.pendingActions} pending, ${s.actionFailures} failed`,
      s.exitStatus === 0 ? 'healthy' : s.attention.map((a) => a.what).join(','),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `${cells.map((x, i) => (i === cells.length - 1 ? x : x.padEnd(widths[i] ?? 0))).join('  ')}\n`;
  const details = rows.flatMap((r) => (r.summary?.attention ?? []).map((a) => `${r.node}: ${a.message}\n`).concat((r.summary?.conflicts ?? []).map((c) => `${r.node}: conflict ${c.realPath} with ${c.peer} (settle there: ${c.settle})\n`)));
  return [line(head), ...body.map(line), ...(details.length ? ['\n', ...details] : [])].join('');
}

function agoShort(ms: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172_800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86_400)}d`;
}

/** The text of `csync status` for one summary. */
export function renderSummary(s: NodeSummary): string {
  const out: string[] = [];
  const d = s.daemon;
  out.push(`node ${s.node}: daemon ${d ? `running (pid ${d.pid}, port ${d.port}, up since ${new Date(d.startedAtMs).toISOString()})` : 'not running'}\n`);
  if (s.lastFullCheck) {
    const c = s.lastFullCheck;
    out.push(`last full check: ${ago(c.atMs)}, ${c.entries} entries, ${c.changed} changed, ${c.problems} problems, ${c.durationMs} ms\n`);
  }
  if (s.pendingActions > 0) out.push(`pending actions: ${s.pendingActions}\n`);
  if (s.actionFailures > 0) out.push(`actions: ${s.actionRuns} run, ${s.actionFailures} failed since the daemon started\n`);
  for (const g of s.groups) {
    out.push(`group ${g.group}${g.receiveOnly ? ' (receive only)' : ''}${g.halted.length ? ': HALTED' : ''}\n`);
    for (const h of g.halted) {
      out.push(`  halted since ${new Date(h.sinceMs).toISOString()}: ${h.message}\n  hint: ${h.hint}\n  override, once the deletion is intended: ${h.override}\n`);
    }
    for (const p of g.peers) {
      const link = d ? `${p.connected ? 'connected' : 'not connected'}, last sync ${ago(p.lastSyncMs)}, ` : '';
      out.push(`  ${p.peer}: ${link}${p.dirty} dirty${p.failing ? ` (${p.failing} failing: ${p.lastError ?? ''})` : ''}, ${p.conflicts} conflicts${p.linkError ? `, last error: ${p.linkError}` : ''}\n`);
    }
  }
  for (const c of s.conflicts) out.push(`conflict ${c.realPath} with ${c.peer} (settle: ${c.settle})\n`);
  if (s.refused.length > 0) out.push(`refused: ${s.refused.length} path(s) not synced, csync cannot carry their names (rename or exclude them)\n`);
  for (const r of s.refused) out.push(`refused ${JSON.stringify(r.path)}: ${r.reason}\n`);
  out.push(s.exitStatus === 0 ? 'healthy\n' : `needs attention (exit ${s.exitStatus}):\n${s.attention.map((a) => `  ${a.message}\n`).join('')}`);
  return out.join('');
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
