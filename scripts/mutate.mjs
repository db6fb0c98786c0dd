#!/usr/bin/env node
// Mutation check: applies each mutation of scripts/mutations.json to a copy of the source, builds,
// runs the tests named for it, and reports whether they caught it (went red). A safety test that
// survives a mutation of the code it guards proves nothing. Run: `npm run mutate [-- NAME…]`.
// The working tree is never modified: every mutation runs in a fresh temp copy (src, test, build config).
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const list = JSON.parse(readFileSync(join(ROOT, 'scripts/mutations.json'), 'utf8'));
const only = process.argv.slice(2);
const chosen = only.length ? list.filter((m) => only.includes(m.name)) : list;
let survived = 0;
for (const m of chosen) {
  const dir = mkdtempSync(join(tmpdir(), 'csync-mutant-'));
  try {
    for (const f of ['src', 'test', 'scripts', 'native-bench', 'tsconfig.json', 'package.json']) {
      if (existsSync(join(ROOT, f))) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const file = join(dir, m.file);
    const text = readFileSync(file, 'utf8');
    if (!text.includes(m.find)) {
      console.log(`STALE     ${m.name}: the text to mutate is no longer in ${m.file}`);
      survived++;
      continue;
    }
    writeFileSync(file, text.replace(m.find, m.replace));
    const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
    if (build.status !== 0) {
      console.log(`NO-BUILD  ${m.name}: the mutant does not compile (rewrite it)\n${build.stdout}`);
      survived++;
      continue;
    }
    const tests = m.tests.map((t) => join('build', t.replace(/\.ts$/, '.js')));
    const run = spawnSync(process.execPath, ['--test', ...(m.pattern ? [`--test-name-pattern=${m.pattern}`] : []), ...tests], { cwd: dir, encoding: 'utf8', timeout: 600_000 });
    if (run.status === 0) {
      survived++;
      console.log(`SURVIVED  ${m.name}: ${m.what}`);
    } else {
      console.log(`caught    ${m.name}: ${m.what}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`${chosen.length - survived} caught, ${survived} survived`);
process.exitCode = survived === 0 ? 0 : 1;
