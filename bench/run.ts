/**
 * One bench run: every workload (W1, W2, W2C, W3, and W6 group commit) on every engine in every
 * planned mode, with the fsync floor around strict; then WAL bytes per commit and the encryption
 * cost (buffered); then, per mode, W4 replay, W4 open() from a snapshot and W5 snapshot while
 * ticking (memory's rows n/a, with the reason), as one JSON-ready document. `runBench` is what
 * `main.ts` prints and what the test calls at a tiny scale.
 */
import { createRequire } from 'node:module';
import { arch, cpus, loadavg, platform, tmpdir, totalmem } from 'node:os';
import { isEcsdbError } from '../src/index.js';
import type { Engine, Opened } from './engine.js';
import { openEcsdb, type EcsdbOptions } from './ecsdb.js';
import { measureEncryptionCost, type EncryptionCostRow } from './encryption.js';
import { measurePolledStrict, type PolledStrictRow } from './poll.js';
import type { EncryptionOptions } from '../src/index.js';
import { measureEcsdbWalBytes, measureReplay, type EcsdbWalBytes, type Replay } from './ecsdb-wal.js';
import {
  measureSnapshotOpen,
  measureSnapshotWhileTicking,
  memoryModeSnapshotRefusal,
  type SnapshotOpen,
  type SnapshotWhileTicking,
} from './ecsdb-snapshot.js';
import { fsyncFloorOf, sampleFsyncFloor, type FsyncFloor, type FsyncFloorPass } from './fsync-floor.js';
import { planFor, type Mode, type Plan, type SqliteSynchronous } from './plan.js';
import { openRaw } from './raw.js';
import { measureSqliteWalBytes, openSqlite, sqliteVersions, type SqliteWalBytes } from './sqlite.js';
import { findRedisServer, measureRedis, type RedisSkipped, type RedisTimings } from './redis.js';
import { measure, withDeadline, type Timing } from './stats.js';
import { evaluateTargets, type TargetResult } from './targets.js';
import { GROUP_COMMIT, PEER_WORKLOADS, WORKLOADS, type Workload, type WorkloadId } from './workloads.js';

export interface Machine {
  cpuModel: string;
  cores: number;
  node: string;
  platform: string;
  arch: string;
  memoryBytes: number;
  /** 1-minute load average when the bench started: other work on the machine skews figures. */
  loadAverage1mAtStart: number;
  /** 1-minute load average when it ended. */
  loadAverage1mAtEnd: number;
  /** Where the WAL and SQLite files go (its file system decides what an fsync costs). */
  tempDir: string;
  betterSqlite3: string;
  sqlite: string;
}

/** A measured figure: the median time per operation and the rates derived from it. */
export interface Figure extends Timing {
  status: 'ok';
  /** Operations (commits, ticks or W6 rounds) per second at the median. */
  opsPerSecond: number;
  /** Entity updates per second at the median (for W1 and W6: commits per second). */
  updatesPerSecond: number;
}

/** A figure ecsdb could not give: the mode is not built yet or was not run ('n/a'), or measuring it failed. */
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

/** W1 strict (better-sqlite3 FULL), one commit at a time, divided by the fsync floor. */
export interface StrictOverFsyncFloor {
  ecsdb: number | null;
  sqlite: number | null;
}

/**
 * W6 in one mode: ecsdb with `inFlight` commits in flight, against as many better-sqlite3
 * transactions with the paired `synchronous` setting.
 */
export interface GroupCommitRow {
  workload: 'W6';
  mode: Mode['name'];
  inFlight: number;
  /** One operation is a round of `inFlight` commits; updatesPerSecond is commits per second. */
  ecsdb: Figure | Missing;
  sqlite: Figure & { synchronous: SqliteSynchronous };
  ecsdbSpeedupOverSqlite: number | null;
}

/** Marginal on-disk log bytes per W1 commit: ecsdb buffered against better-sqlite3 NORMAL. */
export interface WalBytesRow {
  mode: 'buffered';
  ecsdb: EcsdbWalBytes | Missing;
  sqlite: SqliteWalBytes;
  /** sqlite bytes / ecsdb bytes: how many times fewer bytes ecsdb writes. */
  ecsdbSavingOverSqlite: number | null;
}

/**
 * W4 in one mode: reopening a directory of W1 commits built in that mode (memory: n/a, it has no
 * directory). SQLite has no counterpart (see `sqlite.reason`).
 */
export interface ReplayRow {
  workload: 'W4';
  mode: Mode['name'];
  ecsdb: Replay | Missing;
  sqlite: Missing;
}

/** W4 from a snapshot in one mode: open() of a directory whose newest snapshot holds the whole world. */
export interface SnapshotOpenRow {
  workload: 'W4';
  mode: Mode['name'];
  ecsdb: SnapshotOpen | Missing;
}

/** W5 in one mode: a snapshot of the whole world while a loop keeps committing W2 ticks. */
export interface SnapshotWhileTickingRow {
  workload: 'W5';
  mode: Mode['name'];
  ecsdb: SnapshotWhileTicking | Missing;
}

export interface BenchReport {
  startedAt: string;
  durationMs: number;
  machine: Machine;
  plan: Plan;
  results: ResultRow[];
  /** n/a when no mode with a data directory was run. */
  fsyncFloor: FsyncFloor | Missing;
  strictOverFsyncFloor: StrictOverFsyncFloor;
  /** W6, one row per mode run (the spec's target is judged on strict's). */
  groupCommit: GroupCommitRow[];
  /** n/a when buffered mode was not run. */
  walBytes: WalBytesRow | Missing;
  /** W4 and W5, one row per mode run (memory's: n/a, with the reason); their targets read buffered's. */
  replay: ReplayRow[];
  snapshotOpen: SnapshotOpenRow[];
  snapshotWhileTicking: SnapshotWhileTickingRow[];
  /** W5 again with one value object per tick (no garbage of the tick's own), one row per mode run. */
  snapshotWhileTickingReused: SnapshotWhileTickingRow[];
  /** W1 and W2 buffered in the clear and encrypted (bench/encryption.ts); empty when buffered mode was not run. */
  encryption?: EncryptionCostRow[];
  /** W1 and W6 strict with wal.pollStrictWrites on (bench/poll.ts); absent when strict mode was not run. */
  polledStrict?: PolledStrictRow;
  /** Redis with AOF (only when redis-server is on PATH; see redis.ts). */
  redis: RedisTimings | RedisSkipped;
  targets: TargetResult[];
}

export interface RunOptions {
  /** 1 = the sizes in SPEC.md. */
  scale: number;
  modes?: readonly Mode[];
  /** Told what is about to be measured (the CLI shows it on a terminal). */
  onProgress?: (message: string) => void;
  /** Where to look for `redis-server` (default: process.env.PATH); '' skips Redis. */
  redisPath?: string;
}

type Timings = Partial<Record<WorkloadId, Timing | Missing>>;

const SQLITE_HAS_NO_REPLAY =
  "no equivalent: SQLite's -wal file holds page images that checkpoints copy into the database, so open() replays no commits";
const NO_DIRECTORY = 'no directory: nothing to recover';

export async function runBench(options: RunOptions): Promise<BenchReport> {
  const plan = planFor(options.scale, options.modes);
  const progress = options.onProgress ?? (() => undefined);
  const startedAt = new Date();
  const startNs = process.hrtime.bigint();
  const loadAverage1mAtStart = loadavg()[0];

  progress('raw Float32Array columns');
  const raw = mustHave('raw arrays', await measureEngine(openRaw(plan), plan, PEER_WORKLOADS), PEER_WORKLOADS);
  const rowsByMode: ResultRow[][] = [];
  const groupCommit: GroupCommitRow[] = [];
  // Sampled in passes around strict mode (else the first mode that writes files): before ecsdb,
  // between ecsdb and better-sqlite3, and after, so the floor and the strict figures it is
  // compared with see the same disk (other work on the machine moves it).
  const floorMode = plan.modes.find((mode) => mode.name === 'strict') ?? plan.modes.find((mode) => mode.needsDir);
  const floorPasses: FsyncFloorPass[] = [];
  const sampleFloor = async (mode: Mode): Promise<void> => {
    if (mode !== floorMode) return;
    progress(`the fsync floor (pass ${floorPasses.length + 1})`);
    floorPasses.push(await sampleFsyncFloor(plan.fsyncFloor));
  };
  for (const mode of plan.modes) {
    // W3 last: its churn writes the most WAL of all, and the automatic snapshot that starts
    // (64 MiB of WAL, the default) would otherwise run under W6's rounds.
    const workloads = [...WORKLOADS.filter((workload) => workload.id !== 'W3'), GROUP_COMMIT, ...WORKLOADS.filter((workload) => workload.id === 'W3')];
    await sampleFloor(mode);
    progress(`ecsdb ${mode.name}`);
    const ecsdb = await measureEcsdb(plan, mode, workloads);
    await sampleFloor(mode);
    progress(`better-sqlite3 synchronous=${mode.sqliteSynchronous}`);
    const peerWorkloads = workloads.filter((workload) => workload.sameWorkAs === undefined);
    const sqlite = mustHave('better-sqlite3', await measureEngine(openSqlite(plan, mode.sqliteSynchronous), plan, peerWorkloads), peerWorkloads);
    await sampleFloor(mode);
    rowsByMode.push(WORKLOADS.map((workload) => rowOf(workload, mode, plan, ecsdb[workload.id]!, raw[workload.sameWorkAs ?? workload.id], sqlite[workload.sameWorkAs ?? workload.id])));
    groupCommit.push(groupCommitRowOf(mode, plan, ecsdb.W6!, sqlite.W6));
  }
  const fsyncFloor: FsyncFloor | Missing =
    floorPasses.length > 0 ? fsyncFloorOf(plan.fsyncFloor, floorPasses) : { status: 'n/a', reason: 'no mode with a data directory was run' };
  // Workload-major order reads best: every mode of W1, then every mode of W2.
  const results = WORKLOADS.flatMap((_, w) => rowsByMode.map((rows) => rows[w]));

  const buffered = plan.modes.find((mode) => mode.name === 'buffered');
  let walBytes: WalBytesRow | Missing = { status: 'n/a', reason: 'buffered mode was not run' };
  let encryption: EncryptionCostRow[] = [];
  if (buffered !== undefined) {
    progress('W1 and W2 buffered, in the clear and encrypted');
    const commitPath: Mode = { ...buffered, durableWait: 'none' };
    encryption = await measureEncryptionCost(commitPath, (workloads, key) => measureEcsdb(plan, commitPath, workloads, key === undefined ? {} : { encryption: key }));
    progress(`WAL bytes per W1 commit (${count(plan.walBytesCommitCount)} commits)`);
    walBytes = walBytesRowOf(
      await ecsdbFigure(() => measureEcsdbWalBytes(plan, buffered)),
      measureSqliteWalBytes(plan, buffered.sqliteSynchronous, plan.walBytesCommitCount),
    );
  }
  const strict = plan.modes.find((mode) => mode.name === 'strict');
  let polledStrict: PolledStrictRow | undefined;
  if (strict !== undefined) {
    progress('W1 and W6 strict with wal.pollStrictWrites');
    const floorMeanNs = fsyncFloor.status === 'ok' ? fsyncFloor.meanNs : undefined;
    polledStrict = await measurePolledStrict(plan, floorMeanNs, (workloads) => measureEcsdb(plan, strict, workloads, { wal: { pollStrictWrites: true } }));
  }
  const recovery = await measureRecovery(plan, progress);

  const redisPath = options.redisPath ?? process.env.PATH;
  if (findRedisServer(redisPath) !== undefined) progress('Redis (AOF appendfsync everysec, then always)');
  let redis: RedisTimings | RedisSkipped;
  try {
    redis = await measureRedis(plan, redisPath, packageVersion('ioredis'));
  } catch (error) {
    redis = { status: 'failed', reason: messageOf(error) };
  }

  const strictRow = results.find((row) => row.workload === 'W1' && row.mode === 'strict');
  // Means on both sides: an engine's figure is a run's time over its commits (fsync-floor.ts).
  const floorNs = fsyncFloor.status === 'ok' ? fsyncFloor.meanNs : undefined;
  const strictOverFsyncFloor: StrictOverFsyncFloor = {
    ecsdb: floorNs === undefined || strictRow?.ecsdb.status !== 'ok' ? null : strictRow.ecsdb.medianNsPerOp / floorNs,
    sqlite: floorNs === undefined || strictRow === undefined ? null : strictRow.sqlite.medianNsPerOp / floorNs,
  };
  const measured = { results, fsyncFloor, strictOverFsyncFloor, groupCommit, walBytes, ...recovery, encryption, polledStrict };
  return {
    startedAt: startedAt.toISOString(),
    durationMs: Number(process.hrtime.bigint() - startNs) / 1e6,
    machine: { ...machine(), loadAverage1mAtStart, loadAverage1mAtEnd: loadavg()[0] },
    plan,
    ...measured,
    redis,
    targets: evaluateTargets(measured),
  };
}

/** W4 (replay, open() from a snapshot) and W5 in every planned mode; memory's rows say why they are n/a. */
async function measureRecovery(
  plan: Plan,
  progress: (message: string) => void,
): Promise<Pick<BenchReport, 'replay' | 'snapshotOpen' | 'snapshotWhileTicking' | 'snapshotWhileTickingReused'>> {
  const replay: ReplayRow[] = [];
  const snapshotOpen: SnapshotOpenRow[] = [];
  const snapshotWhileTicking: SnapshotWhileTickingRow[] = [];
  const snapshotWhileTickingReused: SnapshotWhileTickingRow[] = [];
  const sqlite: Missing = { status: 'n/a', reason: SQLITE_HAS_NO_REPLAY };
  const world = `${count(plan.snapshot.entityCount)} entities`;
  for (const mode of plan.modes) {
    if (!mode.needsDir) {
      const noDirectory: Missing = { status: 'n/a', reason: NO_DIRECTORY };
      replay.push({ workload: 'W4', mode: mode.name, ecsdb: noDirectory, sqlite });
      snapshotOpen.push({ workload: 'W4', mode: mode.name, ecsdb: noDirectory });
      const refusal = await ecsdbFigure(memoryModeSnapshotRefusal);
      const w5: SnapshotWhileTickingRow = { workload: 'W5', mode: mode.name, ecsdb: typeof refusal === 'string' ? { status: 'n/a', reason: refusal } : refusal };
      snapshotWhileTicking.push(w5);
      snapshotWhileTickingReused.push(w5);
      continue;
    }
    progress(`W4 replay ${mode.name} (building ${count(plan.replay.commitCount)} W1 commits, then ${plan.replay.opens} opens)`);
    replay.push({ workload: 'W4', mode: mode.name, ecsdb: await ecsdbFigure(() => measureReplay(plan, mode)), sqlite });
    progress(`W4 open() from a snapshot ${mode.name} (building ${world} and their snapshot, then ${plan.snapshot.opens} opens)`);
    snapshotOpen.push({ workload: 'W4', mode: mode.name, ecsdb: await ecsdbFigure(() => measureSnapshotOpen(plan, mode)) });
    for (const values of ['fresh', 'reused'] as const) {
      progress(
        `W5 snapshot while ticking ${mode.name}, ${values === 'fresh' ? 'a value object per entity' : 'one value object per tick'} ` +
          `(building ${world}, ticking alone for ${count(plan.snapshot.baselineMs)} ms, then ${plan.snapshot.warmupSnapshots + plan.snapshot.snapshotRuns} snapshots)`,
      );
      const w5: SnapshotWhileTickingRow = { workload: 'W5', mode: mode.name, ecsdb: await ecsdbFigure(() => measureSnapshotWhileTicking(plan, mode, values)) };
      (values === 'fresh' ? snapshotWhileTicking : snapshotWhileTickingReused).push(w5);
    }
  }
  return { replay, snapshotOpen, snapshotWhileTicking, snapshotWhileTickingReused };
}

/** ecsdb in one mode: n/a if `open` rejects the mode as not available, failed if setup breaks. */
async function measureEcsdb(plan: Plan, mode: Mode, workloads: readonly Workload[], options: EcsdbOptions = {}): Promise<Timings> {
  let opened: Opened;
  try {
    opened = await withDeadline(openEcsdb(plan, mode, options), plan.measure.runDeadlineMs, `ecsdb ${mode.name}: open and setup`);
  } catch (error) {
    return everyWorkload(workloads, { status: 'failed', reason: `setup: ${messageOf(error)}` });
  }
  if (opened.status !== 'ok') return everyWorkload(workloads, opened);
  return measureEngine(opened.engine, plan, workloads);
}

/** One of ecsdb's WAL figures: n/a when `open` rejects the mode as not available, failed on any other error. */
async function ecsdbFigure<T>(measureIt: () => Promise<T>): Promise<T | Missing> {
  try {
    return await measureIt();
  } catch (error) {
    if (isEcsdbError(error, 'CONFIG_INVALID')) return { status: 'n/a', reason: error.message };
    return { status: 'failed', reason: messageOf(error) };
  }
}

/**
 * Measures the workloads on an engine, then closes it. A failure fails that figure and skips
 * the rest: the engine's state is unknown after it.
 */
async function measureEngine(engine: Engine, plan: Plan, workloads: readonly Workload[]): Promise<Timings> {
  const timings: Timings = {};
  let failure: string | undefined;
  for (const workload of workloads) {
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
    for (const workload of workloads) timings[workload.id] = { status: 'failed', reason: `close failed: ${messageOf(error)}` };
  }
  return timings;
}

function everyWorkload(workloads: readonly Workload[], missing: Missing): Timings {
  return Object.fromEntries(workloads.map((workload) => [workload.id, missing])) as Timings;
}

/** The raw arrays and SQLite are the yardsticks: a failure there is a bench bug, so it throws. */
function mustHave(engine: string, timings: Timings, workloads: readonly Workload[]): Record<WorkloadId, Timing> {
  for (const workload of workloads) {
    const timing = timings[workload.id];
    if (timing === undefined) throw new Error(`${engine} ${workload.id}: not measured`);
    if ('status' in timing) throw new Error(`${engine} ${workload.id}: ${timing.reason}`);
  }
  return timings as Record<WorkloadId, Timing>;
}

function groupCommitRowOf(mode: Mode, plan: Plan, ecsdb: Timing | Missing, sqlite: Timing): GroupCommitRow {
  const inFlight = GROUP_COMMIT.updatesPerOp(plan);
  const ecsdbFigure = 'status' in ecsdb ? ecsdb : figureOf(ecsdb, inFlight);
  const sqliteFigure = { ...figureOf(sqlite, inFlight), synchronous: mode.sqliteSynchronous };
  return {
    workload: 'W6',
    mode: mode.name,
    inFlight,
    ecsdb: ecsdbFigure,
    sqlite: sqliteFigure,
    ecsdbSpeedupOverSqlite: ecsdbFigure.status === 'ok' ? sqliteFigure.medianNsPerOp / ecsdbFigure.medianNsPerOp : null,
  };
}

function walBytesRowOf(ecsdb: EcsdbWalBytes | Missing, sqlite: SqliteWalBytes): WalBytesRow {
  return {
    mode: 'buffered',
    ecsdb,
    sqlite,
    ecsdbSavingOverSqlite: ecsdb.status === 'ok' && ecsdb.bytesPerCommit > 0 ? sqlite.bytesPerCommit / ecsdb.bytesPerCommit : null,
  };
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

function count(value: number): string {
  return value.toLocaleString('en-US');
}

function machine(): Omit<Machine, 'loadAverage1mAtStart' | 'loadAverage1mAtEnd'> {
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

/** The installed version of a dev dependency (from its package.json). */
function packageVersion(name: string): string {
  const require = createRequire(import.meta.url);
  return (require(`${name}/package.json`) as { version: string }).version;
}
