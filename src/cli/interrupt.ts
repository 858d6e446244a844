/**
 * Ctrl-C (SIGINT) and SIGTERM while a command runs.
 *
 * - Commands that only read (`inspect`, `validate`, `dump`) stop at once: there is nothing to
 *   leave half-done (a LOCK file `dump` leaves behind names a dead process and is taken over).
 * - Commands that change the directory (`snapshot`, `compact`, `repair`, `restore`) run as a
 *   sequence of steps, each durable before the next starts, in an order where the directory is
 *   whole between any two (their module headers give the steps). On the first signal such a
 *   command finishes the step under way, releases the lock and closes the database, says before
 *   which step it stopped, and exits with 130 (SIGINT) or 143 (SIGTERM); running the same
 *   command again finishes the job. A second signal stops it at once, which the step order makes
 *   safe too (it is the same as a crash at that instant).
 *
 * Test hook: with ECSDB_TEST_CLI_PAUSE_AT_STEP=k (a step number, or text the step's description
 * contains) the command writes `ecsdb-test: paused before step k: <step>` to stderr when it
 * reaches that step and waits there for a signal, so a test can interrupt (SIGINT) or kill
 * (SIGKILL) it at each step in turn, or at one named step.
 */
import { CliError } from './common.js';
import { endAllBars } from './progress.js';

export type StopSignal = 'SIGINT' | 'SIGTERM';

/** 128 + the signal's number, as shells report a process stopped by it. */
export const EXIT_BY_SIGNAL: Readonly<Record<StopSignal, number>> = { SIGINT: 130, SIGTERM: 143 };

/** The test hook's variable (ECSDB_TEST_ prefix: ECSDB_<SECTION>_ names are settings). */
export const PAUSE_AT_STEP_VARIABLE = 'ECSDB_TEST_CLI_PAUSE_AT_STEP';

/** The changing command under way (undefined: none, a signal stops the process at once). */
let changing: string | undefined;
/** The first stop signal received while a changing command runs. */
let requested: StopSignal | undefined;
/** Steps the changing command under way has reached. */
let stepIndex = 0;
/** Ends the test hook's pause. */
let wakePause: (() => void) | undefined;
let writeStderr: (text: string) => void = (text) => void process.stderr.write(text);

/** Called once by the bin (main.ts); in-process callers keep Node's default signal handling. */
export function installSignalHandlers(stderr: (text: string) => void): void {
  writeStderr = stderr;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => onSignal(signal));
}

function onSignal(signal: StopSignal): void {
  if (changing === undefined || requested !== undefined) {
    endAllBars();
    if (changing !== undefined) {
      writeStderr(`ecsdb ${changing}: stopped at once by a second ${signal}; every finished step is durable; run the same command again to finish\n`);
    }
    process.exit(EXIT_BY_SIGNAL[signal]);
  }
  requested = signal;
  endAllBars();
  writeStderr(`ecsdb ${changing}: ${signal} received; finishing the current step, then stopping (send it again to stop at once)\n`);
  wakePause?.();
}

/** Runs a command that changes the directory: a signal then stops it between two steps. */
export async function runChangingCommand<T>(command: string, run: () => Promise<T>): Promise<T> {
  changing = command;
  stepIndex = 0;
  try {
    return await run();
  } finally {
    changing = undefined;
  }
}

/**
 * Called by a changing command before each step (`step` says what the step does). Every earlier
 * step is durable by then, and the directory is whole; if a stop signal has arrived, the command
 * stops here (an exception that unwinds its lock and database) instead of starting the step.
 */
export async function beforeStep(step: string): Promise<void> {
  stepIndex++;
  if (requested === undefined && pausesAt(process.env[PAUSE_AT_STEP_VARIABLE], step)) await pause(step);
  if (requested !== undefined) {
    throw new CliError(
      `ecsdb ${changing ?? 'command'}: stopped by ${requested} before step ${stepIndex} (${step}); every earlier step is durable; run the same command again to finish`,
      EXIT_BY_SIGNAL[requested],
    );
  }
}

let pausedOnce = false;

function pausesAt(hook: string | undefined, step: string): boolean {
  if (hook === undefined || hook === '' || pausedOnce) return false;
  return /^\d+$/.test(hook) ? Number(hook) === stepIndex : step.includes(hook);
}

async function pause(step: string): Promise<void> {
  pausedOnce = true;
  process.stderr.write(`ecsdb-test: paused before step ${stepIndex}: ${step}\n`);
  // A pending promise alone does not keep Node running; the timer does until a signal arrives.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  await new Promise<void>((resolve) => {
    wakePause = resolve;
  });
  wakePause = undefined;
  clearInterval(keepAlive);
}
