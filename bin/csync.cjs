#!/usr/bin/env node
// Thin launcher: runs the bundled CLI (build/csync.mjs; `npm run build` makes it, and `npm install`
// runs it through `prepare`), falling back to the unbundled build/src/main.js.
// fsyncs run on libuv's thread pool; 4 threads would serialise a batch of writes behind the disk.
// This file is CommonJS on purpose: the ES module loader reads files on the thread pool, which
// would start it (with 4 threads) before this line could size it.
process.env.UV_THREADPOOL_SIZE = process.env.UV_THREADPOOL_SIZE || '64';
import('../build/csync.mjs')
  .catch((err) => (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('csync.mjs') ? import('../build/src/main.js') : Promise.reject(err)))
  .catch((err) => {
    process.stderr.write(`csync: cannot start: ${err && err.message ? err.message : String(err)}\nhint: run \`npm run build\` in the csync checkout\n`);
    process.exit(70);
  });
