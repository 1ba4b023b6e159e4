#!/usr/bin/env node
/** The cds-distill command: parse argv, run the command, exit with its code (0 ok, 1 user error, 2 usage, 130 interrupted). */
import { runCli } from '../src/cli/program.js';

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
