// The daemon's V8 flag is given in two places: the systemd unit operators install, and the bench
// that measures the daemon's memory. They must agree, or the bench measures another daemon.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('daemon V8 flags', () => {
  it('systemd/csync.service and native-bench start the daemon with the same NODE_OPTIONS', () => {
    const unit = readFileSync(join(REPO, 'systemd/csync.service'), 'utf8');
    const bench = readFileSync(join(REPO, 'native-bench/lib/csync.ts'), 'utf8');
    const inUnit = /^Environment=NODE_OPTIONS=(.+)$/m.exec(unit)?.[1];
    const inBench = /DAEMON_V8_FLAG = '([^']+)'/.exec(bench)?.[1];
    assert.ok(inUnit, 'the unit sets NODE_OPTIONS');
    assert.equal(inBench, inUnit);
  });
});
