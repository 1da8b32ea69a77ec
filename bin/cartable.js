#!/usr/bin/env node
'use strict';
/*
 * The `cartable` command. It calls the compiled CLI's main function and exits with its code:
 * no "am I the entry module?" guard, because npx and npm link run this file through a
 * `.bin/` shim where such a guard is false and the command would silently do nothing.
 */
let cli;
try {
  cli = require('../dist/server/cli/main.js');
} catch (error) {
  if (error && error.code === 'MODULE_NOT_FOUND' && String(error.message).includes('cli/main.js')) {
    process.stderr.write('cartable: the server is not compiled: run `npm run build` first\n');
    process.exit(1);
  }
  throw error;
}

// Exit once stdout and stderr are flushed, so that nothing printed is lost when they are pipes.
const exit = (code) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));

cli.main(process.argv.slice(2)).then(exit, (error) => {
  process.stderr.write(`cartable: ${error && error.message ? error.message : String(error)}\n`);
  exit(1);
});
