#!/usr/bin/env node
/**
 * The `ecsdb` bin: runs the command line (run.ts) on this process's arguments and exits with
 * its status once stdout has drained (a large `dump` into a pipe is not cut short).
 *
 * Exit status: 0 success, 1 failure or damage found, 2 bad usage, 130 (143) stopped by SIGINT
 * (SIGTERM). See docs/cli.md.
 */
import { installSignalHandlers } from './interrupt.js';
import { runCli } from './run.js';

// Ctrl-C: read-only commands stop at once; changing ones after the step under way (interrupt.ts).
installSignalHandlers((text) => void process.stderr.write(text));

// `ecsdb dump | head`: the reader went away; stop quietly (a changing command has finished or
// is crash-safe at any point).
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

runCli(process.argv.slice(2), {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
}).then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (error: unknown) => {
    process.stderr.write(`ecsdb: ${String(error)}\n`);
    process.exit(1);
  },
);
