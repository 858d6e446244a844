/**
 * Timing: how one figure is measured. A runner does `ops` operations per call; the harness first
 * calibrates how many operations make one run last about `runTargetNs` (so a 1 µs commit and a
 * 10 ms tick are both timed over runs long enough for the clock), then discards warm-up runs
 * (JIT tiers, caches, SQLite's page cache), then reports the median time per operation of the
 * measured runs. Figures are reported, never asserted: a slow machine is not a failure.
 */

/** One workload on one engine, ready to run. State (the value sequence) lives in the runner. */
export interface Runner {
  /** Performs `ops` operations; a promise means the last of them finishes when it resolves. */
  run(ops: number): void | Promise<void>;
  /** Throws if the last write is not visible with the value it was given (a bench bug). */
  verify(): void;
}

export interface MeasureSettings {
  /** Discarded runs after calibration. */
  warmupRuns: number;
  /** Measured runs; the figure is their median. */
  runs: number;
  /** Wanted length of one run. */
  runTargetNs: number;
  /** Calibration grows the batch until one batch takes at least this long. */
  calibrationNs: number;
  opsPerRunMax: number;
  /**
   * A run whose promise has not settled by then fails the figure instead of hanging the bench
   * (a `durable` that never resolves would otherwise end the process silently, exit code 13).
   */
  runDeadlineMs: number;
}

export interface Timing {
  /** Median over the measured runs of (run time / ops in the run). */
  medianNsPerOp: number;
  minNsPerOp: number;
  maxNsPerOp: number;
  opsPerRun: number;
  runs: number;
  warmupRuns: number;
  /** Time per operation of each measured run, in run order. */
  samplesNsPerOp: number[];
}

export async function timeRun(runner: Runner, ops: number, deadlineMs: number): Promise<number> {
  const start = process.hrtime.bigint();
  const pending = runner.run(ops);
  if (pending !== undefined) await withDeadline(pending, deadlineMs, `a run of ${ops} operations`);
  return Number(process.hrtime.bigint() - start);
}

export class DeadlineError extends Error {
  override name = 'DeadlineError';
}

/** `promise`, or a DeadlineError once `deadlineMs` pass. The timer keeps the process alive meanwhile. */
export async function withDeadline<T>(promise: Promise<T>, deadlineMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DeadlineError(`${what} did not finish within ${deadlineMs / 1e3} s (a promise it awaits never settled)`)),
      deadlineMs,
    );
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** How many operations make a run last about `runTargetNs`, found by growing a batch. */
export async function calibrate(runner: Runner, settings: MeasureSettings): Promise<number> {
  let ops = 1;
  let elapsedNs = await timeRun(runner, ops, settings.runDeadlineMs);
  while (elapsedNs < settings.calibrationNs && ops < settings.opsPerRunMax) {
    // Grow by the missing factor (bounded, so one outlier-fast batch cannot overshoot wildly).
    const factor = Math.min(10, Math.max(2, settings.calibrationNs / Math.max(elapsedNs, 1)));
    ops = Math.min(settings.opsPerRunMax, Math.ceil(ops * factor));
    elapsedNs = await timeRun(runner, ops, settings.runDeadlineMs);
  }
  const nsPerOp = Math.max(elapsedNs, 1) / ops;
  return clamp(Math.round(settings.runTargetNs / nsPerOp), 1, settings.opsPerRunMax);
}

export async function measure(runner: Runner, settings: MeasureSettings): Promise<Timing> {
  const opsPerRun = await calibrate(runner, settings);
  for (let i = 0; i < settings.warmupRuns; i++) await timeRun(runner, opsPerRun, settings.runDeadlineMs);
  const samplesNsPerOp: number[] = [];
  for (let i = 0; i < settings.runs; i++) samplesNsPerOp.push((await timeRun(runner, opsPerRun, settings.runDeadlineMs)) / opsPerRun);
  runner.verify();
  return {
    medianNsPerOp: median(samplesNsPerOp),
    minNsPerOp: Math.min(...samplesNsPerOp),
    maxNsPerOp: Math.max(...samplesNsPerOp),
    opsPerRun,
    runs: settings.runs,
    warmupRuns: settings.warmupRuns,
    samplesNsPerOp,
  };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
