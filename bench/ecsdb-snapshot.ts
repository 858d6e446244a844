/**
 * ecsdb's snapshot figures (issue 4), each in a fresh directory (removed afterwards) in buffered
 * or strict mode, holding a world of `snapshot.entityCount` entities, each with Position {x, y, z:
 * f32}, Velocity {dx, dy, dz: f32} and Health {hp: i32}, created in transactions of
 * `setupBatchEntityCount` entities (strict: each awaited until durable). Automatic snapshots are
 * off, so the only snapshots are the ones the bench takes. Memory mode has no snapshots
 * (`db.snapshot()` fails with CONFIG_INVALID): `memoryModeSnapshotRefusal` gets its words.
 *
 * - W4 from a snapshot: the world is created, `db.snapshot()` is taken with nothing committing
 *   (so its start and end LSN are the last commit and no WAL tail follows it), and the database
 *   is closed. Each timed `open()` of the directory loads that snapshot; the figure is the
 *   median wall time of `open()`, beside what `open()` reports for the snapshot's load
 *   (db.recovery.snapshot.loadMs) and the WAL records it replayed after it.
 * - W5 snapshot while ticking: in an open world, `db.snapshot()` is started and a loop keeps
 *   committing W2 ticks (one transaction setting Position of `tickEntityCount` entities, new
 *   values each tick; strict: then awaiting the tick's `durable`), yielding to the event loop
 *   between ticks (`await setImmediate`), until
 *   the snapshot resolves. Figures: the time until it resolved (it is durable and published by
 *   then), the ticks completed meanwhile, the snapshot's size, ecsdb's own `longestStepMs`, and
 *   the longest main-thread pause the loop saw, measured by the bench (see `tickLoop`). The
 *   same loop runs alone first (the baseline: what the machine, the WAL writer and garbage
 *   collection pause it without a snapshot), and V8's garbage-collection pauses are recorded
 *   (perf_hooks 'gc' entries) so a long pause can be told apart from a collection. On Linux the
 *   main thread's run-queue wait (/proc/thread-self/schedstat) is subtracted from each gap as
 *   well, so a pause the operating system caused (the thread runnable, but another process on
 *   its CPU) can be told apart from one the process caused; the target is judged on the gap.
 *   W5 runs twice per mode, each in its own world: with W2's ticks (a value object per entity)
 *   and with one value object per tick, the same writes without the tick's own garbage (see
 *   TickValues), which tells the collections that garbage causes from ecsdb's own pauses.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, constants as perfConstants, performance, type PerformanceEntry } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { isEcsdbError, open, type Database, type Entity, type SnapshotResult } from '../src/index.js';
import { Health, Position, Velocity, betweenBatches, openDirectory, tickRunner, type TickValues } from './ecsdb.js';
import type { Mode, Plan } from './plan.js';
import type { Runner } from './stats.js';
import { median, withDeadline } from './stats.js';

async function openWorld(mode: Mode, dir: string): Promise<Database> {
  return openDirectory([Position, Velocity, Health], mode, dir);
}

/**
 * Why W4 from a snapshot and W5 have no memory-mode figure, in ecsdb's words: `db.snapshot()` of
 * a memory database fails with CONFIG_INVALID. Throws if it does not (the bench's n/a would lie).
 */
export async function memoryModeSnapshotRefusal(): Promise<string> {
  const db = await open({ components: [Position], durability: 'memory' });
  try {
    await db.snapshot();
  } catch (error) {
    if (isEcsdbError(error, 'CONFIG_INVALID')) return `no snapshots in memory mode (db.snapshot(): CONFIG_INVALID: ${error.message})`;
    throw error;
  } finally {
    await db.close();
  }
  throw new Error('bench self-check failed: db.snapshot() of a memory database succeeded; W5 could run in memory mode');
}

/** Entity index i: Position {i, -1, -1} (as W2's world), Velocity {i % 7, 1, -1}, Health {i % 1000}. */
function velocityOf(index: number): { dx: number; dy: number; dz: number } {
  return { dx: index % 7, dy: 1, dz: -1 };
}

function healthOf(index: number): { hp: number } {
  return { hp: index % 1000 };
}

/** Creates the world in transactions of `setupBatchEntityCount` entities, then flushes. */
async function populateWorld(db: Database, plan: Plan, mode: Mode): Promise<Entity[]> {
  const entities: Entity[] = [];
  const { entityCount } = plan.snapshot;
  for (let first = 0; first < entityCount; first += plan.setupBatchEntityCount) {
    const end = Math.min(entityCount, first + plan.setupBatchEntityCount);
    const commit = db.transact((tx) => {
      for (let index = first; index < end; index++) {
        const entity = tx.create();
        tx.add(entity, Position, { x: index, y: -1, z: -1 });
        tx.add(entity, Velocity, velocityOf(index));
        tx.add(entity, Health, healthOf(index));
        entities.push(entity);
      }
    });
    await betweenBatches(mode, commit);
  }
  await db.flush();
  return entities;
}

/** Checks a few entities of a (reopened) world against what populateWorld wrote. */
function verifyWorld(db: Database, entities: readonly Entity[]): void {
  if (db.entityCount !== entities.length) {
    throw new Error(`bench self-check failed: the world holds ${db.entityCount} entities, expected ${entities.length}`);
  }
  const last = entities.length - 1;
  for (const index of [0, last >> 1, last]) {
    const position = db.get(entities[index], Position);
    const velocity = db.get(entities[index], Velocity);
    const health = db.get(entities[index], Health);
    const expected = velocityOf(index);
    if (
      position?.x !== index ||
      position.y !== -1 ||
      velocity?.dx !== expected.dx ||
      velocity.dy !== expected.dy ||
      velocity.dz !== expected.dz ||
      health?.hp !== healthOf(index).hp
    ) {
      throw new Error(
        `bench self-check failed: entity index ${index} holds ${JSON.stringify({ position, velocity, health })} after reopening from the snapshot`,
      );
    }
  }
}

/** The snapshot settings `open()` resolved (config file, environment, defaults): they shape W5. */
export interface SnapshotConfig {
  chunkSlots: number;
  compress: boolean;
}

function snapshotConfigOf(db: Database): SnapshotConfig {
  const snapshot = db.config().snapshot as Record<string, { value: unknown }>;
  return { chunkSlots: Number(snapshot.chunkSlots.value), compress: snapshot.compress.value === true };
}

export interface SnapshotOpen {
  status: 'ok';
  entityCount: number;
  /** The snapshot the directory ends with: its file size and LSNs. */
  snapshotBytes: number;
  snapshotStartLsn: number;
  snapshotEndLsn: number;
  /** Creating the world, taking the snapshot and closing. */
  buildMs: number;
  /** How long that `db.snapshot()` took, with nothing committing (a yardstick for W5). */
  quietSnapshotMs: number;
  opens: number;
  /** Wall time of `open()`, median over the opens; also the min and max. */
  openMsMedian: number;
  openMsMin: number;
  openMsMax: number;
  /** db.recovery.snapshot.loadMs (whole milliseconds, ecsdb's clock), median over the opens. */
  loadMsMedian: number;
  /** db.recovery.wal.recordsReplayed after the snapshot (the same on every open; 0 expected). */
  walRecordsReplayed: number;
  config: SnapshotConfig;
}

/** A directory whose newest snapshot holds the whole world, closed, reopened in `mode`; `remove` deletes it. */
export interface SnapshotDirectory {
  readonly dir: string;
  readonly mode: Mode;
  readonly entities: readonly Entity[];
  readonly snapshot: SnapshotResult;
  readonly buildMs: number;
  readonly quietSnapshotMs: number;
  readonly config: SnapshotConfig;
  remove(): void;
}

export async function buildSnapshotDirectory(plan: Plan, mode: Mode): Promise<SnapshotDirectory> {
  const dir = mkdtempSync(join(tmpdir(), 'ecsdb-bench-snapshot-'));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    const startNs = process.hrtime.bigint();
    const db = await openWorld(mode, dir);
    try {
      const built = await withDeadline(
        (async () => {
          const entities = await populateWorld(db, plan, mode);
          const snapshotStartNs = process.hrtime.bigint();
          const snapshot = await db.snapshot();
          const quietSnapshotMs = Number(process.hrtime.bigint() - snapshotStartNs) / 1e6;
          if (snapshot.endLsn !== db.lsn || snapshot.startLsn !== db.lsn) {
            throw new Error(
              `bench self-check failed: a snapshot taken with nothing committing spans LSN ${snapshot.startLsn}..${snapshot.endLsn}, expected ${db.lsn}`,
            );
          }
          return { entities, snapshot, quietSnapshotMs, config: snapshotConfigOf(db) };
        })(),
        plan.snapshot.deadlineMs,
        `creating ${plan.snapshot.entityCount} entities and snapshotting them`,
      );
      await db.close();
      return { dir, mode, ...built, buildMs: Number(process.hrtime.bigint() - startNs) / 1e6, remove };
    } finally {
      await db.close();
    }
  } catch (error) {
    remove();
    throw error;
  }
}

/** One timed `open()` of the snapshot directory, checked, then closed. */
export async function openSnapshotDirectory(
  plan: Plan,
  built: SnapshotDirectory,
): Promise<{ openMs: number; loadMs: number; walRecordsReplayed: number }> {
  const startNs = process.hrtime.bigint();
  const reopened = await withDeadline(openWorld(built.mode, built.dir), plan.snapshot.deadlineMs, 'open() of the W4 snapshot directory');
  const openMs = Number(process.hrtime.bigint() - startNs) / 1e6;
  try {
    const report = reopened.recovery;
    if (report?.snapshot === undefined || report.snapshot.file !== built.snapshot.file) {
      throw new Error(`bench self-check failed: open() did not load the snapshot ${built.snapshot.file} (it used ${report?.snapshot?.file ?? 'none'})`);
    }
    verifyWorld(reopened, built.entities);
    return { openMs, loadMs: report.snapshot.loadMs, walRecordsReplayed: report.wal.recordsReplayed };
  } finally {
    await reopened.close();
  }
}

export async function measureSnapshotOpen(plan: Plan, mode: Mode): Promise<SnapshotOpen> {
  const built = await buildSnapshotDirectory(plan, mode);
  try {
    const openMs: number[] = [];
    const loadMs: number[] = [];
    let walRecordsReplayed = 0;
    for (let i = 0; i < plan.snapshot.opens; i++) {
      const opened = await openSnapshotDirectory(plan, built);
      openMs.push(opened.openMs);
      loadMs.push(opened.loadMs);
      walRecordsReplayed = opened.walRecordsReplayed;
    }
    return {
      status: 'ok',
      entityCount: built.entities.length,
      snapshotBytes: built.snapshot.sizeBytes,
      snapshotStartLsn: built.snapshot.startLsn,
      snapshotEndLsn: built.snapshot.endLsn,
      buildMs: built.buildMs,
      quietSnapshotMs: built.quietSnapshotMs,
      opens: plan.snapshot.opens,
      openMsMedian: median(openMs),
      openMsMin: Math.min(...openMs),
      openMsMax: Math.max(...openMs),
      loadMsMedian: median(loadMs),
      walRecordsReplayed,
      config: built.config,
    };
  } finally {
    built.remove();
  }
}

/**
 * Linux: how long the main thread has waited, runnable, for a CPU (the second field of
 * /proc/thread-self/schedstat, in ns). One pread of an already open file: about 2 µs.
 */
export class RunQueueWait {
  readonly #buffer = Buffer.alloc(96);

  private constructor(readonly fd: number) {}

  /** Opened on the calling (main) thread; undefined where there is no schedstat. */
  static open(): RunQueueWait | undefined {
    let fd: number | undefined;
    try {
      fd = openSync('/proc/thread-self/schedstat', 'r');
      const clock = new RunQueueWait(fd);
      if (!Number.isFinite(clock.readNs())) throw new Error('unreadable');
      return clock;
    } catch {
      if (fd !== undefined) closeSync(fd);
      return undefined;
    }
  }

  readNs(): number {
    const length = readSync(this.fd, this.#buffer, 0, this.#buffer.length, 0);
    const text = this.#buffer.toString('latin1', 0, length);
    const first = text.indexOf(' ');
    return Number(text.slice(first + 1, text.indexOf(' ', first + 1)));
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** What the tick loop saw: one entry per event-loop turn the loop got. */
interface LoopTrace {
  ticks: number;
  /** Main-thread time between the end of one tick and the start of the next (ms). */
  gapsMs: number[];
  /** Each gap minus the main thread's run-queue wait in it (ms); empty without schedstat. */
  gapsOnCpuMs: number[];
  /** Where each gap started, on performance.now()'s clock (that of V8's collection entries). */
  gapStartsMs: number[];
  /** The main thread's run-queue wait over the whole loop (ms); 0 without schedstat. */
  runQueueWaitMs: number;
  /** Each tick's own duration (ms). */
  ticksMs: number[];
  /** Strict: how long each tick's `durable` took after the tick (ms); empty when ticks do not wait. */
  durableWaitsMs: number[];
}

/**
 * The game loop of W5 and its pause measurement: a W2 tick, then `await setImmediate`, again
 * until `stop()` says so. The main thread is never idle while an immediate is pending (libuv
 * polls for I/O without blocking), so the time from the end of one tick to the start of the
 * next is what everything else on the thread took before the loop got its turn back: snapshot
 * steps, I/O callbacks, the WAL writer, garbage collection, and the event loop's own overhead.
 * The longest such gap is the longest pause the game loop saw. It is the bench's own clock
 * (process.hrtime), independent of what ecsdb reports about its steps. A pause inside a tick
 * (a garbage collection the tick triggered) shows in the tick's duration instead.
 *
 * In strict mode each tick awaits its own `durable` before the loop yields: the main thread may
 * be idle meanwhile (waiting for the fsync), so that wait is recorded apart (`durableWaitsMs`) and
 * the gap starts when the loop has it back. Main-thread work that delays the `durable`'s
 * resolution lengthens the wait instead of the gap.
 */
async function tickLoop(tick: Runner, stop: () => boolean, trace: LoopTrace, previousEndNs: bigint, runQueue: RunQueueWait | undefined): Promise<void> {
  const firstWaitNs = runQueue?.readNs() ?? 0;
  let previousWaitNs = firstWaitNs;
  try {
    for (;;) {
      await nextTurn();
      const waitNs = runQueue?.readNs() ?? 0;
      const startNs = process.hrtime.bigint();
      const gapMs = Number(startNs - previousEndNs) / 1e6;
      trace.gapsMs.push(gapMs);
      trace.gapStartsMs.push(performanceMsOf(previousEndNs));
      if (runQueue !== undefined) trace.gapsOnCpuMs.push(Math.max(0, gapMs - (waitNs - previousWaitNs) / 1e6));
      if (stop()) return;
      const durable = tick.run(1);
      previousEndNs = process.hrtime.bigint();
      trace.ticksMs.push(Number(previousEndNs - startNs) / 1e6);
      if (durable !== undefined) {
        const tickEndNs = previousEndNs;
        await durable;
        previousEndNs = process.hrtime.bigint();
        trace.durableWaitsMs.push(Number(previousEndNs - tickEndNs) / 1e6);
      }
      previousWaitNs = runQueue?.readNs() ?? 0;
      trace.ticks++;
    }
  } finally {
    if (runQueue !== undefined) trace.runQueueWaitMs = (runQueue.readNs() - firstWaitNs) / 1e6;
  }
}

function newTrace(): LoopTrace {
  return { ticks: 0, gapsMs: [], gapsOnCpuMs: [], gapStartsMs: [], runQueueWaitMs: 0, ticksMs: [], durableWaitsMs: [] };
}

/**
 * A process.hrtime.bigint() reading on performance.now()'s clock. Node derives both from the
 * same monotonic clock (uv_hrtime), so they differ by a constant: performance's time origin.
 */
function performanceMsOf(hrtimeNs: bigint): number {
  return Number(hrtimeNs) / 1e6 - HRTIME_MS_AT_PERFORMANCE_ORIGIN;
}

const HRTIME_MS_AT_PERFORMANCE_ORIGIN = Number(process.hrtime.bigint()) / 1e6 - performance.now();

/**
 * The longest gap once the garbage collections that ran in it are taken out: the part of the
 * pause that was not V8 collecting (snapshot steps, I/O callbacks, the event loop). V8 runs a
 * scavenge it scheduled as a task of its own between two macrotasks, so the scavenges that the
 * tick's own garbage causes land in the gaps as often as in the ticks.
 */
function netOfGcMax(trace: LoopTrace, gcWatch: GcWatch): number {
  let longest = 0;
  for (let i = 0; i < trace.gapsMs.length; i++) {
    const startMs = trace.gapStartsMs[i];
    const collectedMs = gcWatch.within(startMs, startMs + trace.gapsMs[i]).totalMs;
    longest = Math.max(longest, trace.gapsMs[i] - collectedMs);
  }
  return longest;
}

/** The longest gap once run-queue waits are taken out; null without schedstat. */
function onCpuMax(trace: LoopTrace): number | null {
  return trace.gapsOnCpuMs.length === 0 ? null : Math.max(...trace.gapsOnCpuMs);
}

/** Garbage-collection pauses in a window of time: the longest (and its kind), the sum and how many. */
export interface GcPauses {
  maxMs: number;
  /** 'major' (mark-compact), 'minor' (scavenge), 'incremental' (marking step), 'weakcb'; '' when none. */
  maxKind: string;
  totalMs: number;
  count: number;
}

const GC_KINDS: Record<number, string> = {
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** Records V8's garbage-collection pauses (perf_hooks 'gc' entries) while it is on. */
export class GcWatch {
  readonly #pauses: { startMs: number; durationMs: number; kind: string }[] = [];
  readonly #observer = new PerformanceObserver((list) => this.#add(list.getEntries()));

  constructor() {
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  #add(entries: readonly PerformanceEntry[]): void {
    for (const entry of entries) {
      // @types/node 20 leaves `detail` off PerformanceEntry; gc entries carry { kind, flags } there.
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      this.#pauses.push({ startMs: entry.startTime, durationMs: entry.duration, kind: kind === undefined ? '?' : (GC_KINDS[kind] ?? String(kind)) });
    }
  }

  /** The pauses that started in [startMs, endMs) of performance.now()'s clock. */
  within(startMs: number, endMs: number): GcPauses {
    this.#add(this.#observer.takeRecords()); // entries not delivered to the callback yet
    const inWindow = this.#pauses.filter((pause) => pause.startMs >= startMs && pause.startMs < endMs);
    const longest = inWindow.reduce<(typeof inWindow)[number] | undefined>((max, pause) => (max === undefined || pause.durationMs > max.durationMs ? pause : max), undefined);
    return {
      maxMs: longest?.durationMs ?? 0,
      maxKind: longest?.kind ?? '',
      totalMs: inWindow.reduce((sum, pause) => sum + pause.durationMs, 0),
      count: inWindow.length,
    };
  }

  stop(): void {
    this.#observer.disconnect();
  }
}

/** What one run of the tick loop saw, summed up (a snapshot's, or the baseline's). */
export interface LoopFigures {
  ticks: number;
  /** The longest gap between ticks (the bench's pause measure) and the 99th percentile. */
  pauseMaxMs: number;
  pauseP99Ms: number;
  /**
   * Linux only (else null): the longest gap after taking out the main thread's run-queue wait,
   * and that wait in total: what other processes on the machine took from the loop.
   */
  pauseOnCpuMaxMs: number | null;
  runQueueWaitMs: number | null;
  /** The longest gap without the garbage collections that ran in it (see netOfGcMax). */
  pauseNetOfGcMaxMs: number;
  tickMsMedian: number;
  tickMsMax: number;
  /** Strict only (else null): how long a tick's `durable` took after the tick, median and longest. */
  tickDurableWaitMsMedian: number | null;
  tickDurableWaitMsMax: number | null;
}

function loopFiguresOf(trace: LoopTrace, runQueue: RunQueueWait | undefined, gcWatch: GcWatch): LoopFigures {
  const waits = trace.durableWaitsMs;
  return {
    ticks: trace.ticks,
    pauseMaxMs: Math.max(...trace.gapsMs),
    pauseP99Ms: percentile(trace.gapsMs, 0.99),
    pauseOnCpuMaxMs: onCpuMax(trace),
    runQueueWaitMs: runQueue === undefined ? null : trace.runQueueWaitMs,
    pauseNetOfGcMaxMs: netOfGcMax(trace, gcWatch),
    tickMsMedian: trace.ticksMs.length === 0 ? 0 : median(trace.ticksMs),
    tickMsMax: Math.max(0, ...trace.ticksMs),
    tickDurableWaitMsMedian: waits.length === 0 ? null : median(waits),
    tickDurableWaitMsMax: waits.length === 0 ? null : Math.max(...waits),
  };
}

/** One measured snapshot of W5. */
export interface SnapshotRun extends LoopFigures {
  /** From calling `db.snapshot()` until its promise resolved. */
  durableMs: number;
  /** What ecsdb reported: its longest synchronous step (whole ms, its clock) and chunk count. */
  longestStepMs: number;
  chunkCount: number;
  sizeBytes: number;
  /** The snapshot's fuzzy window: commits between its start and end LSN. */
  lsnSpan: number;
  /** Garbage collection from the call until the snapshot resolved. */
  gc: GcPauses;
}

export interface SnapshotWhileTicking {
  status: 'ok';
  /** How the ticks passed their values to `tx.set` (see TickValues). */
  tickValues: TickValues;
  entityCount: number;
  tickEntityCount: number;
  /** The measured snapshots (a warm-up snapshot before them is not counted). */
  runs: SnapshotRun[];
  durableMsMedian: number;
  durableMsMax: number;
  /** The longest pause over every measured run (the bench's gap measure). */
  pauseMaxMs: number;
  /** The same without run-queue waits (Linux; else null). */
  pauseOnCpuMaxMs: number | null;
  /** The same without the garbage collections in each gap. */
  pauseNetOfGcMaxMs: number;
  /** ecsdb's longestStepMs, the largest over the measured runs. */
  longestStepMs: number;
  ticksMedian: number;
  /** Strict only (else null): the longest wait for a tick's `durable` over the measured runs. */
  tickDurableWaitMsMax: number | null;
  snapshotBytes: number;
  /** The longest single garbage-collection pause over the measured runs, and its kind. */
  gcMaxMs: number;
  gcMaxKind: string;
  /** The same loop with no snapshot running, just before: the machine's and the WAL's own pauses. */
  baseline: LoopFigures & {
    durationMs: number;
    gc: GcPauses;
  };
  config: SnapshotConfig;
  /** Creating the world (not timed as a figure). */
  buildMs: number;
}

/** W5's world, open and populated, with its tick; `close` closes it and deletes the directory. */
export interface TickingWorld {
  readonly db: Database;
  readonly entities: readonly Entity[];
  /** W2's tick over this world: the same code and value sequence as W2's runner. */
  readonly tick: Runner;
  readonly buildMs: number;
  close(): Promise<void>;
}

export async function openTickingWorld(plan: Plan, mode: Mode, values: TickValues = 'fresh'): Promise<TickingWorld> {
  const settings = plan.snapshot;
  const dir = mkdtempSync(join(tmpdir(), 'ecsdb-bench-w5-'));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    const buildStartNs = process.hrtime.bigint();
    const db = await openWorld(mode, dir);
    const close = async (): Promise<void> => {
      try {
        await db.close();
      } finally {
        remove();
      }
    };
    try {
      const entities = await withDeadline(populateWorld(db, plan, mode), settings.deadlineMs, `creating ${settings.entityCount} entities`);
      const buildMs = Number(process.hrtime.bigint() - buildStartNs) / 1e6;
      // Strict: each tick awaits its own `durable` (one tick per run), buffered: none does.
      const wait = mode.durableWait === 'each' ? 'each' : 'none';
      const tick = tickRunner(db, entities, { ...plan, entityCount: settings.entityCount, tickEntityCount: settings.tickEntityCount }, wait, false, values);
      return { db, entities, tick, buildMs, close };
    } catch (error) {
      await close();
      throw error;
    }
  } catch (error) {
    remove();
    throw error;
  }
}

export async function measureSnapshotWhileTicking(plan: Plan, mode: Mode, values: TickValues = 'fresh'): Promise<SnapshotWhileTicking> {
  const settings = plan.snapshot;
  const world = await openTickingWorld(plan, mode, values);
  const { db, tick } = world;
  const gcWatch = new GcWatch();
  const runQueue = RunQueueWait.open();
  try {
    // Baseline: the loop alone for a while (also warms the tick up).
    const baselineTrace = newTrace();
    const baselineStartMs = performance.now();
    const baselineStartNs = process.hrtime.bigint();
    const baselineEndNs = baselineStartNs + BigInt(Math.round(settings.baselineMs * 1e6));
    await withDeadline(
      tickLoop(tick, () => process.hrtime.bigint() >= baselineEndNs, baselineTrace, baselineStartNs, runQueue),
      settings.deadlineMs,
      'the W5 baseline tick loop',
    );
    const baselineDurationMs = Number(process.hrtime.bigint() - baselineStartNs) / 1e6;
    const baselineGc = gcWatch.within(baselineStartMs, performance.now());

    const runs: SnapshotRun[] = [];
    for (let run = -settings.warmupSnapshots; run < settings.snapshotRuns; run++) {
      const measured = await withDeadline(snapshotWhileTicking(db, tick, gcWatch, runQueue), settings.deadlineMs, 'a W5 snapshot while ticking');
      if (run >= 0) runs.push(measured);
    }
    tick.verify();
    const durableMs = runs.map((run) => run.durableMs);
    const durableWaitsMax = runs.map((run) => run.tickDurableWaitMsMax).filter((wait) => wait !== null);
    return {
      status: 'ok',
      tickValues: values,
      entityCount: world.entities.length,
      tickEntityCount: settings.tickEntityCount,
      runs,
      durableMsMedian: median(durableMs),
      durableMsMax: Math.max(...durableMs),
      pauseMaxMs: Math.max(...runs.map((run) => run.pauseMaxMs)),
      pauseOnCpuMaxMs: runQueue === undefined ? null : Math.max(...runs.map((run) => run.pauseOnCpuMaxMs ?? 0)),
      pauseNetOfGcMaxMs: Math.max(...runs.map((run) => run.pauseNetOfGcMaxMs)),
      longestStepMs: Math.max(...runs.map((run) => run.longestStepMs)),
      ticksMedian: median(runs.map((run) => run.ticks)),
      tickDurableWaitMsMax: durableWaitsMax.length === 0 ? null : Math.max(...durableWaitsMax),
      snapshotBytes: runs[runs.length - 1].sizeBytes,
      gcMaxMs: Math.max(...runs.map((run) => run.gc.maxMs)),
      gcMaxKind: runs.reduce((max, run) => (run.gc.maxMs > max.gc.maxMs ? run : max)).gc.maxKind,
      baseline: { ...loopFiguresOf(baselineTrace, runQueue, gcWatch), durationMs: baselineDurationMs, gc: baselineGc },
      config: snapshotConfigOf(db),
      buildMs: world.buildMs,
    };
  } finally {
    gcWatch.stop();
    runQueue?.close();
    await world.close();
  }
}

/** One snapshot, with ticks until it resolves. */
export async function snapshotWhileTicking(db: Database, tick: Runner, gcWatch: GcWatch, runQueue?: RunQueueWait): Promise<SnapshotRun> {
  const trace = newTrace();
  let result: SnapshotResult | undefined;
  let failure: unknown;
  let settled = false;
  let durableNs = 0n;
  const startMs = performance.now();
  const startNs = process.hrtime.bigint();
  // The call's synchronous part is main-thread time too: it counts in the first gap.
  db.snapshot().then(
    (value) => {
      durableNs = process.hrtime.bigint();
      result = value;
      settled = true;
    },
    (error: unknown) => {
      failure = error;
      settled = true;
    },
  );
  await tickLoop(tick, () => settled, trace, startNs, runQueue);
  if (result === undefined) throw failure instanceof Error ? failure : new Error(String(failure));
  const gc = gcWatch.within(startMs, startMs + Number(durableNs - startNs) / 1e6);
  if (!(result.startLsn <= result.endLsn && result.endLsn <= db.lsn)) {
    throw new Error(`bench self-check failed: snapshot LSNs ${result.startLsn}..${result.endLsn} with the database at ${db.lsn}`);
  }
  return {
    ...loopFiguresOf(trace, runQueue, gcWatch),
    durableMs: Number(durableNs - startNs) / 1e6,
    longestStepMs: result.longestStepMs,
    chunkCount: result.chunkCount,
    sizeBytes: result.sizeBytes,
    lsnSpan: result.endLsn - result.startLsn,
    gc,
  };
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}
