// The daemon's metrics (daemon/metrics.ts) as exposition text: strict format, values read from the
// snapshot at scrape time, counters that keep growing, label values escaped whatever they hold.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as prom from 'prom-client';
import { createDaemonMetrics } from '../../../src/daemon/metrics.ts';
import type { MetricsSnapshot } from '../../../src/daemon/metrics.ts';
import { DaemonStats } from '../../../src/daemon/stats.ts';
import type { NodeSummary } from '../../../src/daemon/summary.ts';
import { parseExposition, valueOf } from '../../helpers/prom-exposition.ts';

const SUMMARY: NodeSummary = {
  node: 'web1', version: '0.1.0', daemon: { pid: 1, port: 30865, startedAtMs: 1_700_000_000_000 },
  groups: [{ group: 'www', receiveOnly: false, halted: [], peers: [{ peer: 'web2', connected: true, lastSyncMs: 1_700_000_050_000, linkError: null, dirty: 4, failing: 1, lastError: 'ENOSPC', conflicts: 1 }] }],
  conflicts: [{ path: '%www%/a', realPath: '/var/www/a', peer: 'web2', settle: 'csync -f /var/www/a' }],
  refused: [], pendingActions: 0, lastFullCheck: null, lastActions: [], actionRuns: 0, actionFailures: 0, attention: [], exitStatus: 1,
};

function snapshot(stats: DaemonStats, watcherQueue = 0): MetricsSnapshot {
  return {
    summary: SUMMARY, stats, watcherQueue,
    facts: { pid: 1, port: 30865, startedAtMs: 1_700_000_000_000, peers: { web2: { connected: true, lastOkMs: 1_700_000_050_000 } } },
  };
}

describe('the daemon metrics', () => {
  it('reads every value at scrape time, and counters keep growing', async () => {
    const stats = new DaemonStats(0);
    let queue = 7;
    const m = createDaemonMetrics(prom, () => snapshot(stats, queue));
    stats.noteReceived('web2', 'applied', 10);
    stats.noteSent('web2', 3, 300);
    const one = parseExposition(await m.scrape());
    assert.equal(valueOf(one, 'csync_files_received_total', { peer: 'web2' }), 1);
    assert.equal(valueOf(one, 'csync_bytes_sent_total', { peer: 'web2' }), 300);
    assert.equal(valueOf(one, 'csync_dirty_entries', { group: 'www', peer: 'web2' }), 4);
    assert.equal(valueOf(one, 'csync_failing_entries', { group: 'www', peer: 'web2' }), 1);
    assert.equal(valueOf(one, 'csync_conflicts_held', { peer: 'web2' }), 1);
    assert.equal(valueOf(one, 'csync_last_sync_timestamp_seconds', { peer: 'web2' }), 1_700_000_050);
    assert.equal(valueOf(one, 'csync_watcher_queue_length'), 7);
    assert.equal(valueOf(one, 'csync_files_sent_total', { peer: 'web2' }), 3);
    stats.noteSent('web2', 2, 200);
    queue = 0;
    const two = parseExposition(await m.scrape());
    assert.equal(valueOf(two, 'csync_files_sent_total', { peer: 'web2' }), 5);
    assert.equal(valueOf(two, 'csync_watcher_queue_length'), 0);
  });

  it('escapes label values, whatever a reason code holds', async () => {
    const stats = new DaemonStats(0);
    stats.noteApplyFailure('odd "reason"\\ with\nnewline');
    const text = await createDaemonMetrics(prom, () => snapshot(stats)).scrape();
    const e = parseExposition(text);
    assert.equal(valueOf(e, 'csync_apply_failures_total', { reason: 'odd "reason"\\ with\nnewline' }), 1);
  });
});

describe('docs/monitoring', () => {
  it('uses only metric names the daemon exports (alerts, dashboard, README)', async () => {
    const exported = new Set(parseExposition(await createDaemonMetrics(prom, () => snapshot(new DaemonStats(0))).scrape()).types.keys());
    const root = new URL('../../../../', import.meta.url);
    for (const file of ['docs/monitoring/alerts.yml', 'docs/monitoring/dashboard.json', 'docs/monitoring/README.md']) {
      const used = new Set(readFileSync(new URL(file, root), 'utf8').match(/\bcsync_[a-z_]+\b/g) ?? []);
      assert.ok(used.size >= 5, `${file} names metrics`);
      assert.deepEqual([...used].filter((n) => !exported.has(n)), [], `${file} names metrics the daemon does not export`);
    }
  });
});
