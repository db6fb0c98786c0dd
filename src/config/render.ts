// Renders a NodeView as the human-readable text of `csync config check`. Pure: view in, text out.
import type { ActionConfig, Config, NodeGroup, NodeView } from './types.ts';

const LABEL_WIDTH = 14;

/** Formats milliseconds as the largest exact unit: 3600000 → "1h", 90000 → "90s", 1500 → "1500ms". */
export function formatDuration(ms: number): string {
  const units: readonly [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  for (const [unit, size] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function row(label: string, value: string, indent = ''): string {
  return `${indent}${label.padEnd(LABEL_WIDTH)} ${value}`;
}

/** Continuation lines aligned under the first value. */
function rows(label: string, values: readonly string[], indent = ''): string[] {
  if (values.length === 0) return [row(label, '(none)', indent)];
  return values.map((v, i) => row(i === 0 ? label : '', v, indent));
}

/**
 * The effective config for this node: its name, listen address, paths with %h and prefixes
 * expanded, and every group it belongs to with defaults filled in. Ends with a newline.
 */
export function renderEffectiveConfig(view: NodeView): string {
  const pins = Object.entries(view.config.tls.pins).map(([peer, pin]) => `${peer} ${pin}`);
  const lines = [
    row('config', view.config.source),
    row('node', `${view.self} (listens on ${formatAddress(view.listen.address, view.listen.port)})`),
    row('state_dir', view.stateDir),
    row('tls cert', view.tlsCert),
    row('tls key', view.tlsKey),
    ...rows('tls pins', pins.length > 0 ? pins : ['(none: trust on first use)']),
    row('metrics', metricsText(view.config.metrics)),
  ];
  for (const group of view.groups.values()) lines.push('', ...renderGroup(view, group));
  return `${lines.join('\n')}\n`;
}

function metricsText(m: Config['metrics']): string {
  if (m === undefined) return 'off';
  return `http://${formatAddress(m.host, m.port)}/ (/metrics, /healthz)${m.allowPublic ? ', allow_public' : ''}`;
}

function formatAddress(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function renderGroup(view: NodeView, group: NodeGroup): string[] {
  const g = group.config;
  const ind = '  ';
  const peers = group.peers.map((p) => {
    const host = view.config.hosts[p];
    const addr = host === undefined ? '?' : formatAddress(host.address, host.port);
    return `${p} ${addr}${g.receiveOnly.includes(p) ? ' (receive-only)' : ''}`;
  });
  const roots = [...group.roots].map(([id, dir]) => (id === dir ? id : `${id} -> ${dir}`));
  const backup = g.backupGenerations > 0 && group.backupDir !== undefined
    ? `${g.backupGenerations} generation(s) in ${group.backupDir}`
    : 'off';
  return [
    `group ${g.name}${group.receiveOnly ? ' (this node is receive-only)' : ''}`,
    ...rows('peers', peers, ind),
    row('key', group.keyFile, ind),
    ...rows('include', roots, ind),
    ...rows('exclude', g.exclude, ind),
    row('auto', g.auto, ind),
    row('backup', backup, ind),
    row('ignore', g.ignore.length > 0 ? g.ignore.join(', ') : '(none)', ind),
    row('watch', g.watch ? 'yes' : 'no', ind),
    row('check every', formatDuration(g.checkIntervalMs), ind),
    row('max_delete', `${g.maxDeletePercent}%`, ind),
    ...rows('actions', g.actions.map(renderAction), ind),
  ];
}

function renderAction(a: ActionConfig): string {
  const where = a.doLocalOnly ? 'on the originating node only' : a.doLocal ? 'on receivers and the originating node' : 'on receivers';
  const log = a.logfile === undefined ? '' : `, log ${a.logfile}`;
  const steps = `${a.check !== undefined ? `[check: ${a.check}] ` : ''}${a.exec}${a.verify !== undefined ? ` [verify: ${a.verify}]` : ''}`;
  return `${a.pattern.join(' ')} => ${steps} (${where}, timeout ${formatDuration(a.timeoutMs)}${log})`;
}
