#!/usr/bin/env node
// Thin launcher: runs the bundled CLI (build/csync.mjs; `npm run build` makes it, and `npm install`
// runs it through `prepare`), falling back to the unbundled build/src/main.js.
// fsyncs run on libuv's thread pool; 4 threads would serialise a batch of writes behind the disk.
// This file is CommonJS on purpose: the ES module loader reads files on the thread pool, which
// would start it (with 4 threads) before this line could size it.
//
// Hook calls (`csync -m FILE`, `-u`, `-x FILE`, `-c`, `csync wait`, `--wait`) are first offered to a running daemon of the
// same config and node on its control socket (<state_dir>/control.sock, see src/daemon/control.ts):
// it runs them over its open peer links, and this process never loads the CLI. No daemon, another
// config, or any doubt: the command runs here as usual. CSYNC_NO_DAEMON=1 always runs it here.
'use strict';
process.env.UV_THREADPOOL_SIZE = process.env.UV_THREADPOOL_SIZE || '64';

function runHere() {
  import('../build/csync.mjs')
    .catch((err) => (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('csync.mjs') ? import('../build/src/main.js') : Promise.reject(err)))
    .catch((err) => {
      process.stderr.write(`csync: cannot start: ${err && err.message ? err.message : String(err)}\nhint: run \`npm run build\` in the csync checkout\n`);
      process.exit(70);
    });
}

/** The control socket and request for a command line the daemon may run, else undefined. */
function handoffOf(argv) {
  if (process.env.CSYNC_NO_DAEMON === '1') return undefined;
  let config;
  let node;
  let action = false;
  let positional = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-C' || a === '-N') {
      const v = argv[++i];
      if (v === undefined) return undefined;
      if (a === '-C') config = v;
      else node = v;
    } else if (a === '-P' || a === '-G') {
      if (argv[++i] === undefined) return undefined;
    } else if (/^-[cmuxrq]+$/.test(a)) {
      if (/[cmux]/.test(a)) action = true;
    } else if (a === '--quiet' || a === '--recursive' || a === '--wait' || /^--timeout=./.test(a)) {
      // Passed through.
    } else if (a === '--timeout') {
      if (argv[++i] === undefined) return undefined;
    } else if (a.startsWith('-')) {
      return undefined;
    } else {
      // The first word may be the `wait` subcommand; any later one is a path.
      if (positional === 0 && a === 'wait') action = true;
      positional++;
    }
  }
  if (!action) return undefined;
  const { resolve, join, isAbsolute } = require('node:path');
  const env = (v) => (v !== undefined && v.trim() !== '' ? v : undefined);
  const configPath = resolve(config ?? env(process.env.CSYNC_CONFIG) ?? '/etc/csync/csync.toml');
  const nodeName = (node ?? env(process.env.CSYNC_NODE) ?? require('node:os').hostname().toLowerCase()).trim();
  let text;
  try {
    text = require('node:fs').readFileSync(configPath, 'utf8');
  } catch {
    return undefined;
  }
  // state_dir is a top-level key: before the first table header.
  let stateDir = '/var/lib/csync';
  for (const line of text.split('\n')) {
    if (/^\s*\[/.test(line)) break;
    const m = /^\s*state_dir\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)')\s*(?:#.*)?$/.exec(line);
    if (m) {
      try {
        stateDir = m[1] !== undefined ? JSON.parse(`"${m[1]}"`) : m[2];
      } catch {
        return undefined;
      }
    }
  }
  stateDir = stateDir.replaceAll('%h', nodeName);
  if (!isAbsolute(stateDir)) return undefined;
  return { socket: join(stateDir, 'control.sock'), request: { argv, cwd: process.cwd(), config: configPath, node: nodeName } };
}

function main() {
  const argv = process.argv.slice(2);
  const h = handoffOf(argv);
  if (h === undefined) return runHere();
  const sock = require('node:net').connect(h.socket);
  let reply = '';
  let settled = false;
  const fallback = () => {
    if (settled) return;
    settled = true;
    sock.destroy();
    runHere();
  };
  sock.setEncoding('utf8');
  sock.on('error', fallback);
  sock.on('connect', () => sock.write(`${JSON.stringify(h.request)}\n`));
  sock.on('data', (d) => (reply += d));
  sock.on('end', () => {
    if (settled) return;
    let r;
    try {
      r = JSON.parse(reply);
    } catch {
      return fallback();
    }
    if (r.fallback || typeof r.status !== 'number') return fallback();
    settled = true;
    if (r.out) process.stdout.write(r.out);
    if (r.err) process.stderr.write(r.err);
    process.exitCode = r.status;
  });
}

main();
