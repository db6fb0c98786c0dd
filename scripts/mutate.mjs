#!/usr/bin/env node
// Mutation check: applies each mutation of scripts/mutations.json to a copy of the source, builds,
// runs the tests named for it, and reports whether they caught it (went red). A safety test that
// survives a mutation of the code it guards proves nothing. Run: `npm run mutate [-- NAME…]`.
// The working tree is never modified: every mutation runs in a fresh temp copy (src, test, bin, build
// config), built as `npm run build` does (tsc, then the bundle that bin/csync.cjs runs), so tests that
// spawn daemons run the mutant. `find`/`replace` may be arrays of the same length: several edits of
// one file that make a single mutant (each `find` must occur in the file).
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const list = JSON.parse(readFileSync(join(ROOT, 'scripts/mutations.json'), 'utf8'));
// --control: build and run each entry's tests without the mutation; they must pass (else a "caught"
// proves nothing).
const control = process.argv.includes('--control');
const only = process.argv.slice(2).filter((a) => a !== '--control');
const chosen = only.length ? list.filter((m) => only.includes(m.name)) : list;
let survived = 0;
for (const m of chosen) {
  const dir = mkdtempSync(join(tmpdir(), 'csync-mutant-'));
  try {
    for (const f of ['src', 'test', 'bin', 'scripts', 'native-bench', 'tsconfig.json', 'package.json']) {
      if (existsSync(join(ROOT, f))) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const file = join(dir, m.file);
    let text = readFileSync(file, 'utf8');
    const finds = [m.find].flat();
    const replaces = [m.replace].flat();
    if (finds.length !== replaces.length || finds.some((f) => text.split(f).length !== 2)) {
      console.log(`STALE     ${m.name}: the text to mutate is no longer in ${m.file}, or not once`);
      survived++;
      continue;
    }
    if (!control) {
      finds.forEach((f, i) => {
        text = text.replace(f, () => replaces[i]);
      });
    }
    writeFileSync(file, text);
    const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
    const bundle = build.status === 0 ? spawnSync(process.execPath, ['scripts/bundle.mjs'], { cwd: dir, encoding: 'utf8' }) : build;
    if (build.status !== 0 || bundle.status !== 0) {
      console.log(`NO-BUILD  ${m.name}: the mutant does not compile (rewrite it)\n${build.stdout}${bundle.stderr}`);
      survived++;
      continue;
    }
    const tests = m.tests.map((t) => join('build', t.replace(/\.ts$/, '.js')));
    const run = spawnSync(process.execPath, ['--test', ...(m.pattern ? [`--test-name-pattern=${m.pattern}`] : []), ...tests], { cwd: dir, encoding: 'utf8', timeout: 600_000 });
    if (control) {
      if (run.status !== 0) survived++;
      console.log(`${run.status === 0 ? 'passes   ' : 'FAILS    '} ${m.name}: its tests ${run.status === 0 ? 'pass' : 'fail'} on the unmutated code`);
    } else if (run.status === 0) {
      survived++;
      console.log(`SURVIVED  ${m.name}: ${m.what}`);
    } else {
      console.log(`caught    ${m.name}: ${m.what}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(control ? `${chosen.length - survived} pass unmutated, ${survived} fail` : `${chosen.length - survived} caught, ${survived} survived`);
process.exitCode = survived === 0 ? 0 : 1;
