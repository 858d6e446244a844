/**
 * Progress bars for the long steps of a command (cli-progress draws them). A bar is drawn on
 * stderr only when stderr is a terminal and the command is not asked for `--json`: redirected
 * output and machine-read runs never contain a control character. A bar is cleared from the
 * screen when it ends, so the command's own output starts on a clean line.
 */
import cliProgress from 'cli-progress';

export interface ProgressBar {
  /** `done` of the bar's total units are finished. */
  tick(done: number): void;
  /** Removes the bar from the screen (idempotent). */
  end(): void;
}

/** Starts a bar for `total` units of work labelled `label`. */
export type Progress = (label: string, total: number) => ProgressBar;

const SILENT_BAR: ProgressBar = { tick: () => undefined, end: () => undefined };

/** No bars at all: in-process callers and tests that do not watch them. */
export const NO_PROGRESS: Progress = () => SILENT_BAR;

/** The stream a bar is drawn on: process.stderr, or a stand-in terminal in tests. */
export type ProgressStream = NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number };

/** Bars drawn now, so that an interrupted command can clear them before it exits (interrupt.ts). */
const activeBars = new Set<ProgressBar>();

/** Bars on `stream` when it is a terminal and `json` is false; otherwise none. */
export function terminalProgress(stream: ProgressStream, json: boolean): Progress {
  if (json || stream.isTTY !== true) return NO_PROGRESS;
  return (label, total) => {
    if (total <= 0) return SILENT_BAR;
    const bar = new cliProgress.SingleBar({
      stream,
      format: `${label} [{bar}] {value}/{total}`,
      barsize: 30,
      clearOnComplete: true,
      // Leave the terminal's modes alone (no hidden cursor, no line wrapping switched off): a
      // command stopped at once by a second Ctrl-C must not leave a terminal to repair.
      hideCursor: false,
      linewrap: true,
      // interrupt.ts owns SIGINT; cli-progress must not add its own handler.
      gracefulExit: false,
    });
    bar.start(total, 0);
    const handle: ProgressBar = {
      tick: (done) => bar.update(done),
      end: () => {
        if (!activeBars.delete(handle)) return;
        bar.stop();
      },
    };
    activeBars.add(handle);
    return handle;
  };
}

/** Clears every bar on the screen (before a command exits on a signal). */
export function endAllBars(): void {
  for (const bar of [...activeBars]) bar.end();
}
