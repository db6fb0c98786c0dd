// The status page (`/` of the metrics listener): one small HTML document with the fleet table, each
// node's lag toward its peers, the conflicts held with the command that settles each, and the last
// action runs. Pure: rows in, text out. Peers supply most of the strings (their summaries), so every
// dynamic string goes through escapeHtml; the page has no script and refreshes by meta refresh.
import type { ClusterRow } from './cluster-status.ts';
import type { NodeSummary } from './summary.ts';

/** Seconds between reloads of the page. */
export const PAGE_REFRESH_S = 5;

/** `s` with the five HTML-special characters replaced by entities: safe as text and in quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** A cell or element: tag, escaped text, optional class. */
function el(tag: string, text: string, cls?: string): string {
  return `<${tag}${cls ? ` class="${cls}"` : ''}>${escapeHtml(text)}</${tag}>`;
}

function ago(ms: number | null | undefined, nowMs: number): string {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  const t = s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172_800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86_400)}d`;
  return `${t} ago`;
}

function table(head: readonly string[], rows: readonly string[][]): string {
  const th = `<tr>${head.map((h) => el('th', h)).join('')}</tr>`;
  return `<table>${th}${rows.map((r) => `<tr>${r.join('')}</tr>`).join('')}</table>`;
}

/** The fleet table: one row per node, the columns of `csync status --cluster`. */
function fleetTable(rows: readonly ClusterRow[], nowMs: number): string {
  const head = ['Node', 'Daemon', 'Version', 'Dirty', 'Failing', 'Conflicts', 'Halted', 'Last check', 'Actions', 'State'];
  const body = rows.map((r) => {
    const s = r.summary;
    if (!r.reachable || s === undefined) return [el('td', r.node), `<td colspan="8">-</td>`, el('td', `unreachable: ${r.error ?? ''}`, 'bad')];
    const peers = s.groups.flatMap((g) => g.peers);
    const sum = (f: (p: (typeof peers)[number]) => number): string => String(peers.reduce((n, p) => n + f(p), 0));
    const c = s.lastFullCheck;
    const state = s.exitStatus === 0 ? 'healthy' : s.attention.map((a) => a.what).join(', ');
    return [
      el('td', s.node),
      el('td', s.daemon ? `up ${ago(s.daemon.startedAtMs, nowMs).replace(' ago', '')}` : 'down', s.daemon ? '' : 'bad'),
      el('td', s.version),
      el('td', sum((p) => p.dirty)),
      el('td', sum((p) => p.failing)),
      el('td', String(s.conflicts.length)),
      el('td', String(s.groups.filter((g) => g.halted.length > 0).length)),
      el('td', c ? `${ago(c.atMs, nowMs)}${c.problems || c.halted ? ' (problems)' : ''}` : 'never'),
      el('td', `${s.pendingActions} pending, ${s.actionFailures} failed`),
      el('td', state, s.exitStatus === 0 ? 'ok' : 'bad'),
    ];
  });
  return table(head, body);
}

/** Each node's lag: per group and peer, what it has not delivered yet and when it last synced. */
function lagTable(summaries: readonly NodeSummary[], nowMs: number): string {
  const body = summaries.flatMap((s) =>
    s.groups.flatMap((g) =>
      g.peers.map((p) => [
        el('td', s.node), el('td', g.group + (g.halted.length ? ' (HALTED)' : ''), g.halted.length ? 'bad' : ''), el('td', p.peer),
        el('td', s.daemon ? (p.connected ? 'connected' : 'not connected') : '-'),
        el('td', String(p.dirty)), el('td', String(p.failing), p.failing ? 'bad' : ''),
        el('td', s.daemon ? ago(p.lastSyncMs, nowMs) : '-'),
        el('td', p.lastError ?? p.linkError ?? ''),
      ]),
    ),
  );
  return table(['Node', 'Group', 'Peer', 'Link', 'Dirty', 'Failing', 'Last sync', 'Last error'], body);
}

function conflictList(summaries: readonly NodeSummary[]): string {
  const items = summaries.flatMap((s) => s.conflicts.map((c) => `<li>${el('b', s.node)}: ${escapeHtml(c.realPath)} with ${escapeHtml(c.peer)}; settle on ${escapeHtml(s.node)}: ${el('code', c.settle)}</li>`));
  return items.length ? `<ul>${items.join('')}</ul>` : '<p>None.</p>';
}

function actionTable(summaries: readonly NodeSummary[], nowMs: number): string {
  const runs = summaries.flatMap((s) => s.lastActions.map((a) => ({ node: s.node, ...a }))).sort((a, b) => b.atMs - a.atMs);
  if (runs.length === 0) return '<p>None since the daemons started.</p>';
  const body = runs.map((a) => [
    el('td', a.node), el('td', a.group), el('td', a.phase === 'exec' ? a.command : `${a.phase}: ${a.command}`, 'cmd'), el('td', String(a.files)),
    el('td', a.exitCode === null ? 'no exit status' : `exit ${a.exitCode}`, a.ok ? 'ok' : 'bad'), el('td', `${a.durationMs} ms`), el('td', ago(a.atMs, nowMs)),
  ]);
  return table(['Node', 'Group', 'Command', 'Files', 'Status', 'Took', 'When'], body);
}

function attentionList(summaries: readonly NodeSummary[]): string {
  const items = summaries.flatMap((s) => s.attention.map((a) => `<li>${el('b', s.node)}: ${escapeHtml(a.message)}</li>`));
  return items.length ? `<ul class="bad">${items.join('')}</ul>` : '<p class="ok">Every node is healthy.</p>';
}

const STYLE = [
  'body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}',
  'table{border-collapse:collapse;margin:.5em 0 1.5em}',
  'th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}',
  'th{background:#f3f3f3}',
  '.ok{color:#1a7f37}.bad{color:#c62828;font-weight:600}',
  'code,.cmd{font-family:ui-monospace,monospace}',
  'footer{color:#777;font-size:12px}',
].join('');

/** The whole page for `rows` (from Daemon.clusterStatus), as seen from `node` at `nowMs`. */
export function renderStatusPage(rows: readonly ClusterRow[], opts: { node: string; nowMs: number }): string {
  const summaries = rows.flatMap((r) => (r.summary ? [r.summary] : []));
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="refresh" content="${PAGE_REFRESH_S}">`,
    `<title>csync: ${escapeHtml(opts.node)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>csync fleet, seen from ${escapeHtml(opts.node)}</h1>`,
    '<h2>Nodes</h2>', fleetTable(rows, opts.nowMs),
    '<h2>Needs attention</h2>', attentionList(summaries),
    '<h2>Lag</h2>', lagTable(summaries, opts.nowMs),
    '<h2>Conflicts held</h2>', conflictList(summaries),
    '<h2>Last actions</h2>', actionTable(summaries, opts.nowMs),
    `<footer>As of ${escapeHtml(new Date(opts.nowMs).toISOString())}; refreshes every ${PAGE_REFRESH_S} s. Metrics: <a href="metrics">/metrics</a>, health: <a href="healthz">/healthz</a>.</footer>`,
    '</body></html>',
    '',
  ].join('\n');
}
