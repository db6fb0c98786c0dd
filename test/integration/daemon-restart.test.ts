// A receiving daemon killed with SIGKILL in the middle of an update: no partial file is visible, the
// temp files are swept at restart, and the next update converges. A real `csync daemon` process.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { DaemonCluster } from '../helpers/daemon-cluster.ts';

function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && !e.name.includes('.csync-')) out.set(join(e.parentPath, e.name).slice(dir.length), readFileSync(join(e.parentPath, e.name), 'utf8'));
  }
  return out;
}

describe('a receiving daemon killed with SIGKILL mid-update', () => {
  let c: DaemonCluster;
  before(async () => {
    c = await DaemonCluster.start({ nodes: ['a', 'b'], watch: false, external: ['b'] });
  });
  after(async () => {
    await c.close();
  });

  it('converges after a restart, with no partial or temp files left', async () => {
    await c.spawnNode('b');
    for (let i = 0; i < 3000; i++) c.write('a', `many/d${i % 30}/f${i}.txt`, `content of file ${i}\n`.repeat(1 + (i % 50)));
    // Kill b as soon as the first file lands there (an fs event, not a timer).
    const killed = new Promise<void>((resolve) => {
      const w = watch(c.root('b'), { recursive: false }, () => {
        w.close();
        void c.killNode('b', 'SIGKILL').then(resolve);
      });
    });
    const first = await c.run('a', '-x');
    await killed;
    assert.notEqual(first.status, 0, 'the interrupted update must not report success');
    for (const [rel, text] of tree(c.root('b'))) assert.equal(text, readFileSync(join(c.root('a'), rel), 'utf8'), `${rel} is partial`);

    await c.spawnNode('b');
    const second = await c.run('a', '-u');
    assert.equal(second.status, 0, second.out + second.err);
    assert.deepEqual(tree(c.root('b')), tree(c.root('a')));
    // Temp files of the killed transfer (ignored by the check above) are gone after the restart.
    const leftovers = readdirSync(c.root('b'), { recursive: true }).filter((n) => String(n).includes('.csync-'));
    assert.deepEqual(leftovers, []);
    assert.equal((await c.run('a', '-M')).status, 2);
  });
});
