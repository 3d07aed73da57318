#!/usr/bin/env node
// Runs the compiled CLI; `npm install`/`npm ci` build dist/ through the `prepare` script.
import('../dist/cli.js').then((cli) => cli.main(process.argv.slice(2))).catch((error) => {
  process.stderr.write(`driftwatch: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
