// A peer's status-reply is untrusted (daemon/cluster-status.ts): the summary is rebuilt field by
// field, strings lose their control characters (no terminal escapes reach an operator's screen),
// and anything that is not a summary of the asked node is refused with CSYNC_PROTO_INVALID_MESSAGE.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clusterExit, parseSummary } from '../../../src/daemon/cluster-status.ts';
import type { NodeSummary } from '../../../src/daemon/summary.ts';
import { hasCode } from '../../../src/core/errors.ts';

const GOOD: NodeSummary = {
  node: 'web2',
  version: '0.1.0',
  daemon: { pid: 12, port: 30865, startedAtMs: 1_700_000_000_000 },
  groups: [{ group: 'www', receiveOnly: false, halted: [], peers: [{ peer: 'web1', connected: true, lastSyncMs: 1, linkError: null, dirty: 2, failing: 0, lastError: null, conflicts: 0 }] }],
  conflicts: [{ path: '%www%/a.txt', realPath: '/var/www/a.txt', peer: 'web1', settle: 'csync -f /var/www/a.txt' }],
  refused: [],
  pendingActions: 0,
  lastFullCheck: { atMs: 5, durationMs: 40, entries: 10, changed: 0, problems: 0, halted: 0 },
  lastActions: [{ group: 'www', command: 'nginx -s reload', phase: 'exec', exitCode: 0, ok: true, durationMs: 12, atMs: 6, files: 1 }],
  actionRuns: 1,
  actionFailures: 0,
  attention: [{ what: 'conflicts', message: '1 path(s) in conflict' }],
  exitStatus: 1,
};

const refused = (text: string, peer = 'web2'): void => {
  assert.throws(() => parseSummary(text, peer), (e: unknown) => hasCode(e, 'CSYNC_PROTO_INVALID_MESSAGE'));
};

describe('a peer\'s summary', () => {
  it('comes back as sent when it is well formed', () => {
    assert.deepEqual(parseSummary(JSON.stringify(GOOD), 'web2'), GOOD);
  });

  it('loses control characters: an escape sequence in a path never reaches the terminal', () => {
    const evil = { ...GOOD, conflicts: [{ ...GOOD.conflicts[0], realPath: '/var/www/\u001b]0;pwned\u0007\u001b[2Ja.txt' }] };
    const got = parseSummary(JSON.stringify(evil), 'web2');
    assert.doesNotMatch(got.conflicts[0]?.realPath ?? '', /[\u0000-\u001f\u007f-\u009f]/);
    assert.match(got.conflicts[0]?.realPath ?? '', /^\/var\/www\/\ufffd\]0;pwned\ufffd\ufffd\[2Ja\.txt$/);
  });

  it('is refused when it is not JSON, names another node, or has a field of the wrong type', () => {
    refused('{not json');
    refused(JSON.stringify(GOOD), 'web3');
    refused(JSON.stringify({ ...GOOD, exitStatus: '0' }));
    refused(JSON.stringify({ ...GOOD, groups: 'www' }));
    refused(JSON.stringify({ ...GOOD, attention: [{ what: 'rm -rf', message: 'x' }] }));
    refused(JSON.stringify({ ...GOOD, conflicts: Array.from({ length: 1001 }, () => GOOD.conflicts[0]) }));
  });

  it('keeps only the fields csync knows', () => {
    const got = parseSummary(JSON.stringify({ ...GOOD, extra: 'x'.repeat(1000) }), 'web2') as unknown as Record<string, unknown>;
    assert.equal(got['extra'], undefined);
  });

  it('makes the fleet exit 1 for an unreachable peer, 69 when a node has no daemon, 0 when all are healthy', () => {
    const healthy = { ...GOOD, attention: [], exitStatus: 0 };
    assert.equal(clusterExit([{ node: 'a', reachable: true, summary: healthy }]), 0);
    assert.equal(clusterExit([{ node: 'a', reachable: true, summary: healthy }, { node: 'b', reachable: false, error: 'refused' }]), 1);
    assert.equal(clusterExit([{ node: 'a', reachable: true, summary: { ...healthy, exitStatus: 69 } }]), 69);
  });
});
