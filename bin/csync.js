#!/usr/bin/env node
// Thin launcher: runs the compiled CLI from build/. `npm install` runs `prepare`, which builds it.
import('../build/src/main.js').catch((err) => {
  process.stderr.write(`csync: cannot start: ${err && err.message ? err.message : String(err)}\nhint: run \`npm run build\` in the csync checkout\n`);
  process.exit(70);
});
