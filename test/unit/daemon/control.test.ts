// The daemon's control socket (daemon/control.ts): one JSON line in, one out; malformed requests
// and handler failures are answered `fallback` (the client then runs the command itself).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/core/logger.ts';
import { controlSocketPath, listenControl } from '../../../src/daemon/control.ts';
import type { ControlRequest } from '../../../src/daemon/control.ts';

const dir = mkdtempSync(join(tmpdir(), 'csync-control-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function ask(line: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = connect(controlSocketPath(dir));
    let got = '';
    s.setEncoding('utf8');
    s.on('error', reject);
    s.on('connect', () => s.write(line));
    s.on('data', (d: string) => (got += d));
    s.on('end', () => resolve(JSON.parse(got)));
  });
}

describe('control socket', () => {
  it('answers a request with the handler\'s reply, falls back on bad input or a failing handler', async () => {
    const seen: ControlRequest[] = [];
    const server = await listenControl(dir, async (req) => {
      seen.push(req);
      if (req.argv[0] === 'boom') throw new Error('handler bug');
      return { status: 3, out: `ran ${req.argv.join(' ')}\n`, err: '' };
    }, silentLogger);
    assert.ok(server);
    try {
      assert.equal(statSync(controlSocketPath(dir)).mode & 0o777, 0o600);
      const req = { argv: ['-x', 'f'], cwd: '/', config: '/etc/csync/csync.toml', node: 'a' };
      assert.deepEqual(await ask(`${JSON.stringify(req)}\n`), { status: 3, out: 'ran -x f\n', err: '' });
      assert.deepEqual(seen, [req]);
      assert.deepEqual(await ask('not json\n'), { fallback: true });
      assert.deepEqual(await ask(`${JSON.stringify({ argv: 'x', cwd: '/', config: 'c', node: 'n' })}\n`), { fallback: true });
      assert.deepEqual(await ask(`${JSON.stringify({ ...req, argv: ['boom'] })}\n`), { fallback: true });
    } finally {
      await server.close();
    }
  });

  it('gives no socket (and no error) where it cannot listen', async () => {
    const server = await listenControl(join(dir, 'missing', 'x'.repeat(120)), async () => ({ fallback: true }), silentLogger);
    assert.equal(server, undefined);
  });
});
