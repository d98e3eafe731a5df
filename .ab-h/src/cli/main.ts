#!/usr/bin/env node
/**
 * Entry point of the `meshwire` command (package `bin`). See `meshwire --help`.
 */
import { run } from './run.js';

run(process.argv.slice(2)).then(
  (code) => {
    // Exit once stdout has drained, so the last lines reach a pipe; a lingering handle (a
    // paused TTY stdin, a timer) cannot keep the process alive after the node closed.
    process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`meshwire: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
