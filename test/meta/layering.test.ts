// The layering rule of README "Architecture" as data: a module imports only from lower layers, and ⚙ adapters
// are imported only by daemon/, cli/ and tests.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SRC = join(ROOT, 'src');

const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  core: [],
  config: ['core'],
  protocol: ['core'],
  fs: ['core'],
  store: ['core'],
  scanner: ['core', 'fs', 'store'],
  watcher: ['core'],
  backup: ['core', 'fs'],
  actions: ['core', 'config'],
  net: ['core', 'protocol'],
  sync: ['core', 'config', 'fs', 'store', 'scanner', 'watcher', 'backup', 'actions', 'net', 'protocol'],
  daemon: ['core', 'config', 'fs', 'store', 'scanner', 'watcher', 'backup', 'actions', 'net', 'protocol', 'sync'],
  cli: ['core', 'config', 'fs', 'store', 'scanner', 'watcher', 'backup', 'actions', 'net', 'protocol', 'sync', 'daemon'],
};

/** Adapters that touch Node or a native dependency (⚙): only daemon/, cli/ and tests import them. */
const ADAPTERS = new Set([
  'config/load.ts', 'fs/node-fs.ts', 'store/sqlite-store.ts', 'store/migrate.ts', 'store/state-dir-lock.ts', 'net/tls-transport.ts', 'net/cert.ts',
  'watcher/chokidar-source.ts', 'actions/child-process-runner.ts',
]);

/** Node built-ins allowed per layer (core and protocol are pure). */
const NODE_ALLOWED: Readonly<Record<string, (file: string) => boolean>> = {
  core: () => false,
  protocol: (f) => f === 'protocol/handshake.ts',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function importsOf(text: string): string[] {
  return [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm), ...text.matchAll(/^\s*import\s+'([^']+)'/gm)].map((m) => m[1] as string);
}

function violations(): string[] {
  const out: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const rel = relative(SRC, file);
    const layer = rel.includes('/') ? (rel.split('/')[0] as string) : 'main';
    if (layer === 'main') continue;
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) {
        const target = relative(SRC, resolve(dirname(file), spec));
        const tLayer = target.split('/')[0] as string;
        if (tLayer !== layer && !(MAY_IMPORT[layer] ?? []).includes(tLayer)) out.push(`src/${rel} imports src/${target} (layer ${tLayer})`);
        if (tLayer !== layer && ADAPTERS.has(target) && layer !== 'daemon' && layer !== 'cli') out.push(`src/${rel} imports ⚙ ${target}`);
      } else if (spec.startsWith('node:') || ['better-sqlite3', 'chokidar', 'pino'].includes(spec)) {
        const allowed = NODE_ALLOWED[layer];
        if (allowed && !allowed(rel)) out.push(`src/${rel} imports ${spec}`);
      }
    }
  }
  return out;
}

describe('layering', () => {
  it('has no import from a higher layer, no adapter import below L4, and no Node in core/protocol', () => {
    assert.deepEqual(violations(), []);
  });

  it('detects a violation when one exists (the checker itself works)', () => {
    const imports = importsOf("import { x } from '../daemon/runtime.ts';\nimport type { Y } from './y.ts';");
    assert.deepEqual(imports, ['../daemon/runtime.ts', './y.ts']);
  });
});
