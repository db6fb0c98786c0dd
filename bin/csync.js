#!/usr/bin/env node
// Thin launcher: runs the compiled CLI from build/. `npm install` runs `prepare`, which builds it.
// fsyncs run on libuv's thread pool; 4 threads would serialise a batch of writes behind the disk.
process.env.UV_THREADPOOL_SIZE ??= '64';
import('../build/src/main.js').catch((err) => {
  process.stderr.write(`csync: cannot start: ${err && err.message ? err.message : String(err)}\nhint: run \`npm run build\` in the csync checkout\n`);
  process.exit(70);
});
