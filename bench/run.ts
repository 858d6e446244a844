/**
 * One bench run: every workload on every engine in every planned mode, as one JSON-ready
 * document. `runBench` is what `main.ts` prints and what the test calls at a tiny scale.
 */
import { arch, cpus, loadavg, platform, tmpdir, totalmem } from 'node:os';
import type { Engine, Opened } from './engine.js';
import { openEcsdb } from './ecsdb.js';
import { planFor, type Mode, type Plan, type SqliteSynchronous } from './plan.js';
import { openRaw } from './raw.js';
import { openSqlite, sqliteVersions } from './sqlite.js';
import { measure, withDeadline, type Timing } from './stats.js';
import { evaluateTargets, type TargetResult } from './targets.js';
import { WORKLOADS, type Workload, type WorkloadId } from './workloads.js';

export interface Machine {
  cpuModel: string;
  cores: number;
  node: string;
  platform: string;
  arch: string;
  memoryBytes: number;
  /** 1-minute load average when the bench started: other work on the machine skews figures. */
  loadAverage1mAtStart: number;
  /** Where the WAL and SQLite files go (its file system decides what an fsync costs). */
  tempDir: string;
  betterSqlite3: string;
  sqlite: string;
}

/** A measured figure: the median time per operation and the rates derived from it. */
export interface Figure extends Timing {
  status: 'ok';
  /** Operations (commits or ticks) per second at the median. */
  opsPerSecond: number;
  /** Entity updates per second at the median. */
  updatesPerSecond: number;
}

/** A figure ecsdb could not give: the mode is not built yet ('n/a'), or measuring it failed. */
export interface Missing {
  status: 'n/a' | 'failed';
  reason: string;
}

export interface ResultRow {
  workload: WorkloadId;
  title: string;
  opUnit: string;
  updatesPerOp: number;
  mode: Mode['name'];
  ecsdb: Figure | Missing;
  raw: Figure;
  sqlite: Figure & { synchronous: SqliteSynchronous };
  /** sqlite time / ecsdb time: above 1 means ecsdb is that many times faster. Null without an ecsdb figure. */
  ecsdbSpeedupOverSqlite: number | null;
  /** ecsdb time / raw time: what transactions cost over plain array stores. Null without an ecsdb figure. */
  ecsdbOverRaw: number | null;
}

export interface BenchReport {
  startedAt: string;
  durationMs: number;
  machine: Machine;
  plan: Plan;
  results: ResultRow[];
  targets: TargetResult[];
}

export interface RunOptions {
  /** 1 = the sizes in SPEC.md. */
  scale: number;
  modes?: readonly Mode[];
  /** Told what is about to be measured (the CLI shows it on a terminal). */
  onProgress?: (message: string) => void;
}

type Timings = Record<WorkloadId, Timing | Missing>;

export async function runBench(options: RunOptions): Promise<BenchReport> {
  const plan = planFor(options.scale, options.modes);
  const progress = options.onProgress ?? (() => undefined);
  const startedAt = new Date();
  const startNs = process.hrtime.bigint();
  const loadAverage1mAtStart = loadavg()[0];

  progress('raw Float32Array columns');
  const raw = mustHave('raw arrays', await measureEngine(openRaw(plan), plan));
  const rowsByMode: ResultRow[][] = [];
  for (const mode of plan.modes) {
    progress(`ecsdb ${mode.name}`);
    const ecsdb = await measureEcsdb(plan, mode);
    progress(`better-sqlite3 synchronous=${mode.sqliteSynchronous}`);
    const sqlite = mustHave('better-sqlite3', await measureEngine(openSqlite(plan, mode.sqliteSynchronous), plan));
    rowsByMode.push(WORKLOADS.map((workload) => rowOf(workload, mode, plan, ecsdb[workload.id], raw[workload.id], sqlite[workload.id])));
  }
  // Workload-major order reads best: every mode of W1, then every mode of W2.
  const results = WORKLOADS.flatMap((_, w) => rowsByMode.map((rows) => rows[w]));

  return {
    startedAt: startedAt.toISOString(),
    durationMs: Number(process.hrtime.bigint() - startNs) / 1e6,
    machine: { ...machine(), loadAverage1mAtStart },
    plan,
    results,
    targets: evaluateTargets(results),
  };
}

/** ecsdb in one mode: n/a if `open` rejects the mode as not available, failed if setup breaks. */
async function measureEcsdb(plan: Plan, mode: Mode): Promise<Timings> {
  let opened: Opened;
  try {
    opened = await withDeadline(openEcsdb(plan, mode), plan.measure.runDeadlineMs, `ecsdb ${mode.name}: open and setup`);
  } catch (error) {
    return everyWorkload({ status: 'failed', reason: `setup: ${messageOf(error)}` });
  }
  if (opened.status !== 'ok') return everyWorkload(opened);
  return measureEngine(opened.engine, plan);
}

/**
 * Measures every workload on an engine, then closes it. A failure fails that figure and skips
 * the rest: the engine's state is unknown after it.
 */
async function measureEngine(engine: Engine, plan: Plan): Promise<Timings> {
  const timings: Partial<Timings> = {};
  let failure: string | undefined;
  for (const workload of WORKLOADS) {
    if (failure !== undefined) {
      timings[workload.id] = { status: 'failed', reason: `not measured after ${failure}` };
      continue;
    }
    try {
      timings[workload.id] = await measure(engine.runner(workload.id), plan.measure);
    } catch (error) {
      failure = `${workload.id} failed: ${messageOf(error)}`;
      timings[workload.id] = { status: 'failed', reason: messageOf(error) };
    }
  }
  try {
    await withDeadline(engine.close(), plan.measure.runDeadlineMs, 'close');
  } catch (error) {
    for (const workload of WORKLOADS) timings[workload.id] = { status: 'failed', reason: `close failed: ${messageOf(error)}` };
  }
  return timings as Timings;
}

function everyWorkload(missing: Missing): Timings {
  return Object.fromEntries(WORKLOADS.map((workload) => [workload.id, missing])) as Timings;
}

/** The raw arrays and SQLite are the yardsticks: a failure there is a bench bug, so it throws. */
function mustHave(engine: string, timings: Timings): Record<WorkloadId, Timing> {
  for (const workload of WORKLOADS) {
    const timing = timings[workload.id];
    if ('status' in timing) throw new Error(`${engine} ${workload.id}: ${timing.reason}`);
  }
  return timings as Record<WorkloadId, Timing>;
}

function rowOf(workload: Workload, mode: Mode, plan: Plan, ecsdb: Timing | Missing, raw: Timing, sqlite: Timing): ResultRow {
  const updatesPerOp = workload.updatesPerOp(plan);
  const ecsdbFigure = 'status' in ecsdb ? ecsdb : figureOf(ecsdb, updatesPerOp);
  const rawFigure = figureOf(raw, updatesPerOp);
  const sqliteFigure = { ...figureOf(sqlite, updatesPerOp), synchronous: mode.sqliteSynchronous };
  const ecsdbNs = ecsdbFigure.status === 'ok' ? ecsdbFigure.medianNsPerOp : undefined;
  return {
    workload: workload.id,
    title: workload.title,
    opUnit: workload.opUnit,
    updatesPerOp,
    mode: mode.name,
    ecsdb: ecsdbFigure,
    raw: rawFigure,
    sqlite: sqliteFigure,
    ecsdbSpeedupOverSqlite: ecsdbNs === undefined ? null : sqliteFigure.medianNsPerOp / ecsdbNs,
    ecsdbOverRaw: ecsdbNs === undefined ? null : ecsdbNs / rawFigure.medianNsPerOp,
  };
}

function figureOf(timing: Timing, updatesPerOp: number): Figure {
  const opsPerSecond = 1e9 / timing.medianNsPerOp;
  return { status: 'ok', ...timing, opsPerSecond, updatesPerSecond: opsPerSecond * updatesPerOp };
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return 'code' in error && typeof error.code === 'string' ? `${error.code}: ${error.message}` : error.message;
  return String(error);
}

function machine(): Omit<Machine, 'loadAverage1mAtStart'> {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    node: process.version,
    platform: platform(),
    arch: arch(),
    memoryBytes: totalmem(),
    tempDir: tmpdir(),
    ...sqliteVersions(),
  };
}
