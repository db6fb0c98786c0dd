// The status page (daemon/status-page.ts) shows what peers report, so every string a peer supplies
// must reach the browser as text: markup in a path, a command, an error or a node's summary is escaped.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, renderStatusPage } from '../../../src/daemon/status-page.ts';
import type { ClusterRow } from '../../../src/daemon/cluster-status.ts';
import type { NodeSummary } from '../../../src/daemon/summary.ts';

const NOW = 1_700_000_100_000;
const EVIL = '<script>alert("x")</script>&\'';
const EVIL_TEXT = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;';

const PEER: NodeSummary = {
  node: 'web2',
  version: '0.1.0',
  daemon: { pid: 12, port: 30865, startedAtMs: NOW - 90_000 },
  groups: [{
    group: 'www', receiveOnly: false,
    halted: [{ kind: 'check', group: 'www', where: '/var/www', message: `root vanished ${EVIL}`, hint: 'h', sinceMs: NOW - 1000, override: 'csync -cr -G www --allow-mass-delete' }],
    peers: [{ peer: 'web1', connected: false, lastSyncMs: NOW - 30_000, linkError: `refused ${EVIL}`, dirty: 3, failing: 1, lastError: `ENOSPC ${EVIL}`, conflicts: 1 }],
  }],
  conflicts: [{ path: `%www%/${EVIL}`, realPath: `/var/www/${EVIL}`, peer: 'web1', settle: `csync -f '/var/www/${EVIL}'` }],
  refused: [],
  pendingActions: 2,
  lastFullCheck: { atMs: NOW - 60_000, durationMs: 40, entries: 10, changed: 0, problems: 1, halted: 0 },
  lastActions: [{ group: 'www', command: `reload ${EVIL}`, phase: 'exec', exitCode: 3, ok: false, durationMs: 12, atMs: NOW - 5000, files: 1 }],
  actionRuns: 1,
  actionFailures: 1,
  attention: [{ what: 'conflicts', message: `1 path(s) in conflict ${EVIL}` }],
  exitStatus: 1,
};

const ROWS: ClusterRow[] = [
  { node: 'web2', reachable: true, summary: PEER },
  { node: 'web3', reachable: false, error: `connect ECONNREFUSED ${EVIL}` },
];

describe('the status page', () => {
  const page = renderStatusPage(ROWS, { node: 'web1', nowMs: NOW });

  it('escapes the five HTML-special characters', () => {
    assert.equal(escapeHtml(EVIL), EVIL_TEXT);
  });

  it('shows every peer-supplied string as text, never as markup', () => {
    assert.doesNotMatch(page, /<script/i);
    assert.doesNotMatch(page, /<\/script/i);
    const shown = page.split(EVIL_TEXT).length - 1;
    assert.ok(shown >= 6, `the hostile string appears escaped in every field (${shown} times)`);
    assert.equal(page.includes(EVIL), false);
  });

  it('has the fleet row, the lag, the conflict with its settle command and the action exit status', () => {
    assert.match(page, /<tr><td>web2<\/td><td>up 90s<\/td><td>0\.1\.0<\/td><td>3<\/td><td>1<\/td><td>1<\/td><td>1<\/td><td>60s ago \(problems\)<\/td><td>2 pending, 1 failed<\/td><td class="bad">conflicts<\/td><\/tr>/);
    assert.match(page, /<tr><td>web3<\/td><td colspan="8">-<\/td><td class="bad">unreachable: connect ECONNREFUSED /);
    assert.match(page, /<tr><td>web2<\/td><td class="bad">www \(HALTED\)<\/td><td>web1<\/td><td>not connected<\/td><td>3<\/td><td class="bad">1<\/td><td>30s ago<\/td>/);
    assert.ok(page.includes(`<code>csync -f &#39;/var/www/${EVIL_TEXT}&#39;</code>`));
    assert.match(page, /<td class="bad">exit 3<\/td><td>12 ms<\/td><td>5s ago<\/td>/);
  });

  it('refreshes itself and loads nothing from elsewhere', () => {
    assert.match(page, /<meta http-equiv="refresh" content="5">/);
    assert.doesNotMatch(page, /<(script|link|img|iframe)\b|src=|https?:/i);
  });
});
