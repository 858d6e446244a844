/**
 * The bench reports every figure it promises. These tests run it at a tiny size and check that
 * each figure is there and is a positive finite number; they never check that anything is fast
 * (timing belongs to `npm run bench`, not to the test suite).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { LoopFigures, SnapshotOpen, SnapshotRun, SnapshotWhileTicking } from '../../bench/ecsdb-snapshot.js';
import { Position, tickRunner, type TickValues } from '../../bench/ecsdb.js';
import type { Replay } from '../../bench/ecsdb-wal.js';
import type { FsyncFloor } from '../../bench/fsync-floor.js';
import { MODES, modesNamed, planFor, type Mode } from '../../bench/plan.js';
import { formatReport } from '../../bench/report.js';
import { runBench, type BenchReport, type Figure, type Machine, type Missing, type ResultRow } from '../../bench/run.js';
import { findRedisServer } from '../../bench/redis.js';
import { TARGETS, evaluateTargets, type TargetInputs, type TargetResult } from '../../bench/targets.js';
import { WORKLOADS } from '../../bench/workloads.js';
import { open, type Entity } from '../../src/index.js';
import type { Transaction } from '../../src/txn/transaction.js';

/**
 * 100 entities, ticks of 10, 100 commits in flight, 1,000 commits to replay, a 1,000-entity world
 * to snapshot: every code path in seconds.
 */
const TINY_SCALE = 0.001;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPILED_MAIN = fileURLToPath(new URL('../../dist/bench/main.js', import.meta.url));

function expectPositiveFinite(value: unknown, where: string): void {
  expect(typeof value === 'number' && Number.isFinite(value) && value > 0, `${where} is ${String(value)}`).toBe(true);
}

function expectFigure(figure: Figure | Missing, where: string): void {
  expect(figure.status, `${where}: ${'reason' in figure ? figure.reason : ''}`).toBe('ok');
  const ok = figure as Figure;
  for (const key of ['medianNsPerOp', 'minNsPerOp', 'maxNsPerOp', 'opsPerSecond', 'updatesPerSecond', 'opsPerRun'] as const) {
    expectPositiveFinite(ok[key], `${where}.${key}`);
  }
  expect(ok.samplesNsPerOp, `${where}.samplesNsPerOp`).toHaveLength(ok.runs);
  ok.samplesNsPerOp.forEach((sample, i) => expectPositiveFinite(sample, `${where}.samplesNsPerOp[${i}]`));
}

/** ecsdb's figure must be measured, unless `open` said the mode is not available yet. */
function expectRow(row: ResultRow): void {
  const where = `${row.workload} ${row.mode}`;
  expectFigure(row.raw, `${where} raw`);
  expectFigure(row.sqlite, `${where} sqlite`);
  if (row.ecsdb.status === 'n/a') {
    expect(row.mode, `${where}: memory mode is always available`).not.toBe('memory');
    expect(row.ecsdb.reason, `${where} n/a reason`).not.toBe('');
    expect(row.ecsdbSpeedupOverSqlite).toBeNull();
    expect(row.ecsdbOverRaw).toBeNull();
    return;
  }
  expectFigure(row.ecsdb, `${where} ecsdb`);
  expectPositiveFinite(row.ecsdbSpeedupOverSqlite, `${where} ecsdbSpeedupOverSqlite`);
  expectPositiveFinite(row.ecsdbOverRaw, `${where} ecsdbOverRaw`);
}

function expectFsyncFloor(floor: FsyncFloor | Missing): void {
  expect(floor.status, `fsync floor: ${'reason' in floor ? floor.reason : ''}`).toBe('ok');
  const ok = floor as FsyncFloor;
  for (const key of ['appendSizeBytes', 'appends', 'medianNs', 'minNs', 'p90Ns', 'maxNs', 'perSecond', 'asyncMedianNs', 'asyncP90Ns', 'asyncDsyncMedianNs', 'asyncDsyncP90Ns', 'asyncDsyncOverwriteMedianNs', 'asyncDsyncOverwriteP90Ns', 'meanNs', 'asyncDsyncOverwriteMeanNs'] as const) {
    expectPositiveFinite(ok[key], `fsyncFloor.${key}`);
  }
  expect(ok.passMediansNs, 'one pass before, between and after the strict figures').toHaveLength(3);
  ok.passMediansNs.forEach((ns, i) => expectPositiveFinite(ns, `fsyncFloor.passMediansNs[${i}]`));
  expect(ok.minNs).toBeLessThanOrEqual(ok.medianNs);
  expect(ok.medianNs).toBeLessThanOrEqual(ok.maxNs);
}

/** W6 has a row per mode run, each against better-sqlite3 with the paired `synchronous` setting. */
function expectGroupCommitRows(report: BenchReport): void {
  expect(report.groupCommit.map((row) => row.mode)).toEqual(report.plan.modes.map((mode) => mode.name));
  report.groupCommit.forEach((row, i) => {
    expect(row.inFlight).toBe(report.plan.groupCommitInFlight);
    expectFigure(row.ecsdb, `W6 ${row.mode} ecsdb`);
    expectFigure(row.sqlite, `W6 ${row.mode} sqlite`);
    expect(row.sqlite.synchronous).toBe(report.plan.modes[i].sqliteSynchronous);
    expectPositiveFinite(row.ecsdbSpeedupOverSqlite, `W6 ${row.mode} ecsdbSpeedupOverSqlite`);
  });
}

/** Every figure of issue 3 (durability and recovery) is measured and positive. */
function expectDurabilityFigures(report: BenchReport): void {
  expectFsyncFloor(report.fsyncFloor);
  expectPositiveFinite(report.strictOverFsyncFloor.ecsdb, 'strictOverFsyncFloor.ecsdb');
  expectPositiveFinite(report.strictOverFsyncFloor.sqlite, 'strictOverFsyncFloor.sqlite');

  expectGroupCommitRows(report);

  const walBytes = report.walBytes;
  expect('ecsdb' in walBytes, `WAL bytes: ${'reason' in walBytes ? walBytes.reason : ''}`).toBe(true);
  if (!('ecsdb' in walBytes)) return;
  expect(walBytes.ecsdb.status, `WAL bytes ecsdb: ${'reason' in walBytes.ecsdb ? walBytes.ecsdb.reason : ''}`).toBe('ok');
  if (walBytes.ecsdb.status !== 'ok') return;
  for (const side of [walBytes.ecsdb, walBytes.sqlite]) {
    expect(side.commits).toBe(report.plan.walBytesCommitCount);
    expectPositiveFinite(side.walBytesGrowth, 'walBytesGrowth');
    expectPositiveFinite(side.bytesPerCommit, 'bytesPerCommit');
  }
  expect(walBytes.sqlite.synchronous).toBe('NORMAL');
  expectPositiveFinite(walBytes.ecsdbSavingOverSqlite, 'WAL bytes ecsdbSavingOverSqlite');

  expectModeRows(report, report.replay, 'W4 replay', NO_DIRECTORY, (w4, mode) => {
    expect(w4.commits).toBe(report.plan.replay.commitCount);
    expect(w4.opens).toBe(report.plan.replay.opens);
    expect(w4.recordsReplayed).toBe(w4.commits + w4.setupRecords);
    for (const key of ['setupRecords', 'walBytes', 'segmentCount', 'buildMs', 'openMsMedian', 'openMsMin', 'openMsMax', 'commitsPerSecond'] as const) {
      expectPositiveFinite(w4[key], `W4 ${mode} ${key}`);
    }
    // replayMs is open()'s own report, in whole milliseconds: a tiny replay may take under one.
    expect(Number.isFinite(w4.replayMsMedian) && w4.replayMsMedian >= 0, `W4 ${mode} replayMsMedian is ${w4.replayMsMedian}`).toBe(true);
  });
  for (const row of report.replay) expect(row.sqlite.status, 'SQLite has no W4 counterpart').toBe('n/a');
}

/** Why W4 has no memory-mode figure. */
const NO_DIRECTORY = /^no directory: nothing to recover$/;
/** Why W5 has none: what db.snapshot() of a memory database says. */
const NO_MEMORY_SNAPSHOT = /^no snapshots in memory mode \(db\.snapshot\(\): CONFIG_INVALID: .+\)$/;

/**
 * W4 and W5 have one row per mode run: memory's is n/a (no directory) with `memoryReason`, the
 * others are measured and checked by `check`.
 */
function expectModeRows<F extends { status: 'ok' }>(
  report: BenchReport,
  rows: readonly { mode: Mode['name']; ecsdb: F | Missing }[],
  what: string,
  memoryReason: RegExp,
  check: (figure: F, mode: Mode['name']) => void,
): void {
  expect(rows.map((row) => row.mode), what).toEqual(report.plan.modes.map((mode) => mode.name));
  for (const { mode, ecsdb } of rows) {
    if (mode === 'memory') {
      expect(ecsdb.status, `${what} memory`).toBe('n/a');
      expect((ecsdb as Missing).reason, `${what} memory`).toMatch(memoryReason);
      continue;
    }
    expect(ecsdb.status, `${what} ${mode}: ${'reason' in ecsdb ? ecsdb.reason : ''}`).toBe('ok');
    if (ecsdb.status === 'ok') check(ecsdb as F, mode);
  }
}

/**
 * ecsdb reports some durations in whole milliseconds of its own clock (Date.now): at this size
 * they may be 0, so they need only be finite and not negative.
 */
function expectWholeMs(value: unknown, where: string): void {
  expect(typeof value === 'number' && Number.isFinite(value) && value >= 0, `${where} is ${String(value)}`).toBe(true);
}

/** The targets whose figure is one of those whole-millisecond durations. */
const WHOLE_MS_TARGETS = new Set(['w5-longest-step']);

/** Every figure of issue 4 (snapshots) is measured and positive. */
function expectSnapshotFigures(report: BenchReport): void {
  const settings = report.plan.snapshot;
  expectModeRows(report, report.snapshotOpen, 'W4 from a snapshot', NO_DIRECTORY, (w4: SnapshotOpen, mode) => {
    expect(w4.entityCount).toBe(settings.entityCount);
    expect(w4.opens).toBe(settings.opens);
    expect(w4.walRecordsReplayed, 'the snapshot was taken with nothing committing: no WAL tail after it').toBe(0);
    expect(w4.snapshotEndLsn).toBe(w4.snapshotStartLsn);
    for (const key of ['snapshotBytes', 'snapshotEndLsn', 'buildMs', 'quietSnapshotMs', 'openMsMedian', 'openMsMin', 'openMsMax'] as const) {
      expectPositiveFinite(w4[key], `W4 from a snapshot ${mode} ${key}`);
    }
    expectWholeMs(w4.loadMsMedian, `W4 from a snapshot ${mode} loadMsMedian`);
    expectPositiveFinite(w4.config.chunkSlots, `W4 ${mode} config.chunkSlots`);
  });
  for (const [rows, values] of [
    [report.snapshotWhileTicking, 'fresh'],
    [report.snapshotWhileTickingReused, 'reused'],
  ] as const) {
    expectModeRows(report, rows, `W5 ${values} values`, NO_MEMORY_SNAPSHOT, (w5: SnapshotWhileTicking, mode) => expectW5Figures(w5, mode, values, settings));
  }
}

/** W5's figures in one mode, with ticks passing `values`. */
function expectW5Figures(w5: SnapshotWhileTicking, mode: Mode['name'], values: TickValues, settings: BenchReport['plan']['snapshot']): void {
  expect(w5.tickValues).toBe(values);
  expect(w5.entityCount).toBe(settings.entityCount);
  expect(w5.tickEntityCount).toBe(settings.tickEntityCount);
  expect(w5.runs).toHaveLength(settings.snapshotRuns);
  for (const key of ['durableMsMedian', 'durableMsMax', 'pauseMaxMs', 'ticksMedian', 'snapshotBytes', 'buildMs'] as const) {
    expectPositiveFinite(w5[key], `W5 ${mode} ${key}`);
  }
  expectWholeMs(w5.longestStepMs, `W5 ${mode} longestStepMs`);
  expectWholeMs(w5.gcMaxMs, `W5 ${mode} gcMaxMs`);
  // Strict ticks await their durable; buffered ones do not, so they have no such wait.
  const awaitsDurable = mode === 'strict';
  w5.runs.forEach((run: SnapshotRun, i) => expectLoopFigures(run, `W5 ${mode} runs[${i}]`, awaitsDurable));
  expectLoopFigures(w5.baseline, `W5 ${mode} baseline`, awaitsDurable);
  w5.runs.forEach((run: SnapshotRun, i) => {
    for (const key of ['durableMs', 'sizeBytes', 'chunkCount'] as const) expectPositiveFinite(run[key], `W5 ${mode} runs[${i}].${key}`);
    expectWholeMs(run.longestStepMs, `W5 ${mode} runs[${i}].longestStepMs`);
    expectWholeMs(run.lsnSpan, `W5 ${mode} runs[${i}].lsnSpan`);
  });
  if (awaitsDurable) expectPositiveFinite(w5.tickDurableWaitMsMax, `W5 ${mode} tickDurableWaitMsMax`);
  else expect(w5.tickDurableWaitMsMax).toBeNull();
  if (process.platform === 'linux') expect(w5.pauseOnCpuMaxMs, 'schedstat is read on Linux').not.toBeNull();
  expectPositiveFinite(w5.baseline.durationMs, `W5 ${mode} baseline.durationMs`);
}

/** What the W5 tick loop saw, in a snapshot's run or the baseline. */
function expectLoopFigures(loop: LoopFigures, where: string, awaitsDurable: boolean): void {
  for (const key of ['pauseMaxMs', 'pauseP99Ms', 'ticks', 'tickMsMedian', 'tickMsMax'] as const) expectPositiveFinite(loop[key], `${where}.${key}`);
  // Linux only (schedstat); elsewhere null. Either way never negative.
  if (loop.pauseOnCpuMaxMs !== null) expectWholeMs(loop.pauseOnCpuMaxMs, `${where}.pauseOnCpuMaxMs`);
  if (loop.runQueueWaitMs !== null) expectWholeMs(loop.runQueueWaitMs, `${where}.runQueueWaitMs`);
  expectWholeMs(loop.pauseNetOfGcMaxMs, `${where}.pauseNetOfGcMaxMs`);
  expect(loop.pauseNetOfGcMaxMs, `${where}: a gap without its collections is no longer than the gap`).toBeLessThanOrEqual(loop.pauseMaxMs);
  if (awaitsDurable) {
    expectPositiveFinite(loop.tickDurableWaitMsMedian, `${where}.tickDurableWaitMsMedian`);
    expectPositiveFinite(loop.tickDurableWaitMsMax, `${where}.tickDurableWaitMsMax`);
  } else {
    expect(loop.tickDurableWaitMsMedian, `${where}.tickDurableWaitMsMedian`).toBeNull();
    expect(loop.tickDurableWaitMsMax, `${where}.tickDurableWaitMsMax`).toBeNull();
  }
}

function expectCompleteReport(report: BenchReport): void {
  expect(report.machine.cpuModel).not.toBe('');
  expectPositiveFinite(report.machine.cores, 'machine.cores');
  expectPositiveFinite(report.durationMs, 'durationMs');
  expect(report.results.map((row) => `${row.workload} ${row.mode}`)).toEqual(
    WORKLOADS.flatMap((workload) => MODES.map((mode) => `${workload.id} ${mode.name}`)),
  );
  report.results.forEach(expectRow);
  expectDurabilityFigures(report);
  expectSnapshotFigures(report);
  expectRedisFigures(report);
  expect(report.targets.map((target) => target.id)).toEqual(TARGETS.map((target) => target.id));
  for (const target of report.targets) {
    expect(target.status, `${target.id}: ${target.reason ?? ''}`).not.toBe('n/a'); // every mode ran
    if (WHOLE_MS_TARGETS.has(target.id)) expectWholeMs(target.measured, `target ${target.id}`);
    else expectPositiveFinite(target.measured, `target ${target.id}`);
  }
}

const REDIS_SKIPPED = { status: 'skipped', reason: 'redis-server is not on PATH' } as const;

/** Redis runs only where redis-server is installed (CI has none): then every figure is there. */
function expectRedisFigures(report: BenchReport): void {
  const redis = report.redis;
  if (findRedisServer(process.env.PATH) === undefined) {
    expect(redis.status).toBe('skipped');
    return;
  }
  expect(redis.status, `redis: ${'reason' in redis ? redis.reason : ''}`).toBe('ok');
  if (redis.status !== 'ok') return;
  expect(redis.modes.map((mode) => mode.appendfsync)).toEqual(['everysec', 'always']);
  for (const mode of redis.modes) {
    for (const timing of [mode.point, mode.tick, ...(mode.inFlight === undefined ? [] : [mode.inFlight])]) {
      expectPositiveFinite(timing.medianNsPerOp, `redis ${mode.appendfsync} medianNsPerOp`);
    }
  }
  expect(redis.modes[1].inFlight, 'W6 counterpart under appendfsync always').toBeDefined();
}

describe('W2 tick runner', () => {
  // W5's second row differs from its first only in how the tick hands its values to tx.set.
  it.each([
    ['fresh', 'a new object for every entity'],
    ['reused', 'one object for the whole tick'],
  ] as const)('with %s values passes %s', async (values, _what) => {
    const plan = planFor(TINY_SCALE);
    const db = await open({ components: [Position], durability: 'memory' });
    try {
      const entities = db.transact((tx) =>
        Array.from({ length: plan.entityCount }, (_, i) => {
          const entity = tx.create();
          tx.add(entity, Position, { x: i, y: 0, z: 0 });
          return entity;
        }),
      ).value;
      const given: object[] = [];
      const transact = db.transact.bind(db);
      // Every tx.set of the runner's transactions, through a Proxy that records its values.
      const spied = (fn: (tx: Transaction) => unknown) =>
        transact((tx) =>
          fn(
            new Proxy(tx, {
              get(target, key) {
                if (key === 'set') return (entity: Entity, component: typeof Position, value: { x: number; y: number; z: number }) => (given.push(value), target.set(entity, component, value));
                const member = Reflect.get(target, key) as unknown;
                return typeof member === 'function' ? member.bind(target) : member;
              },
            }),
          ),
        );
      Object.assign(db, { transact: spied });
      const runner = tickRunner(db, entities, plan, 'none', false, values);
      await runner.run(2);
      runner.verify();
      const ticks = [given.slice(0, plan.tickEntityCount), given.slice(plan.tickEntityCount)];
      expect(given).toHaveLength(2 * plan.tickEntityCount);
      for (const tick of ticks) expect(new Set(tick).size).toBe(values === 'reused' ? 1 : plan.tickEntityCount);
      expect(ticks[0][0], 'each tick has values of its own').not.toBe(ticks[1][0]);
    } finally {
      await db.close();
    }
  });
});

describe('runBench()', () => {
  it('reports every figure of every workload and mode as a positive finite number', async () => {
    const report = await runBench({ scale: TINY_SCALE });
    expect(report.plan.entityCount).toBe(100);
    expect(report.plan.snapshot.entityCount).toBe(1_000);
    expectCompleteReport(report);
    const text = formatReport(report);
    for (const mode of MODES) {
      expect(text).toMatch(new RegExp(`W3 churn +${mode.name} +[\\d.,]+ ms/op ±\\d+% +[\\d.,]+ ms/op ±\\d+% +[\\d.,]+ ms/op ±\\d+%`));
    }
    expect(text).toMatch(/sqlite OFF +[\d.,]+( k| M)? entities\/s/);
    expect(text).toMatch(/fsync floor: 40-byte append \+ fdatasync .* mean [\d.,]+ µs \(median [\d.,]+, min/);
    expect(text).toMatch(/the same into preallocated space .* mean [\d.,]+ µs = [\d.,]+x the floor \(median [\d.,]+, p90 [\d.,]+\)/);
    expect(text).toMatch(/(MET|NOT MET|LIMIT) +W1 strict, one commit at a time: <= 1\.2x the fsync floor: measured [\d.,]+ times the fsync floor\n +the limit: .*: [\d.,]+ times the fsync floor/);
    expect(text).toMatch(/W1 strict \/ fsync floor +strict +[\d.,]+x the floor +[\d.,]+x the floor/);
    for (const mode of MODES) expect(text).toMatch(new RegExp(`W6 100 commits +${mode.name} +[\\d.,]+ ms/100 .* [\\d.,]+x (faster|slower)`));
    expect(text).toMatch(/WAL bytes per W1 commit +buffered +[\d.,]+ B\/commit +[\d.,]+ B\/commit +[\d.,]+x fewer bytes/);
    for (const mode of ['buffered', 'strict']) {
      expect(text).toMatch(new RegExp(`W4 replay on open\\(\\) +${mode} +[\\d.,]+( k| M)? commits/s +n/a`));
      expect(text).toMatch(new RegExp(`W4 open\\(\\) from a snapshot +${mode} +open [\\d.,]+ ms \\(median of 3;`));
      expect(text).toMatch(new RegExp(`W5 snapshot while ticking +${mode} +durable in [\\d.,]+ ms \\(median of 3;`));
    }
    expect(text).toMatch(/W4 replay on open\(\) +memory +n\/a/);
    expect(text).toMatch(/n\/a: ecsdb W4 memory: no directory: nothing to recover/);
    expect(text).toMatch(/W4 open\(\) from a snapshot +memory +n\/a/);
    expect(text).toMatch(/n\/a: W4 from a snapshot memory: no directory: nothing to recover/);
    expect(text).toMatch(/W5 snapshot while ticking +memory +n\/a/);
    expect(text).toMatch(/n\/a: W5 memory: no snapshots in memory mode \(db\.snapshot\(\): CONFIG_INVALID: /);
    expect(text).toMatch(/a world of 1,000 entities with Position .* at scale 0\.001 these figures are indicative only/s);
    expect(text).toMatch(/snapshot load [\d.,]+ ms of it \(db\.recovery\.snapshot\.loadMs, median\)/);
    expect(text).toMatch(/longest pause [\d.,]+ ms \(bench;/);
    expect(text.match(/^W5 snapshot while ticking +(buffered|strict) +durable in /gm), 'W5 rows: both tick kinds, buffered and strict').toHaveLength(4);
    expect(text.match(/^ticks of [\d,]+\)/gm)).toHaveLength(2);
    expect(text.match(/^ticks of [\d,]+, .*\n^one value object each\)/gm)).toHaveLength(2);
    expect(text).toMatch(/longestStepMs [\d.,]+ ms \(ecsdb's own/);
    expect(text).toMatch(/[\d,]+ W2 ticks completed during it/);
    expect(text).toMatch(/each awaited its durable: median wait per run [\d.,]+, [\d.,]+, [\d.,]+ ms,/);
    expect(text).toMatch(/W1 buffered: [\d.]+ µs clear, [\d.]+ µs encrypted per commit = [\d.]+x/);
    expect(text).toMatch(/W2 buffered: [\d.]+ (µs|ms) clear, [\d.]+ (µs|ms) encrypted per tick = [\d.]+x/);
    for (const target of TARGETS) expect(text).toContain(target.description);
  });

  it('reports W6 in memory mode, and W4, W5 and the durability figures as n/a with their reasons, when only memory mode runs', async () => {
    const report = await runBench({ scale: TINY_SCALE, modes: modesNamed('memory'), redisPath: '' });
    expect(report.redis).toEqual({ status: 'skipped', reason: expect.stringMatching(/redis-server is not on PATH/) });
    expect(report.fsyncFloor.status).toBe('n/a');
    expect(report.strictOverFsyncFloor).toEqual({ ecsdb: null, sqlite: null });
    expectGroupCommitRows(report);
    expect(report.walBytes).toMatchObject({ status: 'n/a' });
    expectModeRows(report, report.replay, 'W4 replay', NO_DIRECTORY, () => undefined);
    expectModeRows(report, report.snapshotOpen, 'W4 from a snapshot', NO_DIRECTORY, () => undefined);
    expectModeRows(report, report.snapshotWhileTicking, 'W5', NO_MEMORY_SNAPSHOT, () => undefined);
    expectModeRows(report, report.snapshotWhileTickingReused, 'W5 reused values', NO_MEMORY_SNAPSHOT, () => undefined);
    const statuses = Object.fromEntries(report.targets.map((target) => [target.id, target.status]));
    for (const target of TARGETS) {
      if (target.mode === 'memory') expect(statuses[target.id], target.id).not.toBe('n/a');
      else expect(statuses[target.id], target.id).toBe('n/a');
    }
    const text = formatReport(report);
    expect(text).toMatch(/W6 100 commits +memory +[\d.,]+ ms\/100/);
    expect(text).toMatch(/n\/a: W5 memory: no snapshots in memory mode/);
    expect(text).toMatch(/Redis: skipped: redis-server is not on PATH/);
  });
});

describe('bench/main.js (compiled)', () => {
  function runMain(args: string[]): ReturnType<typeof spawnSync> {
    if (!existsSync(COMPILED_MAIN)) throw new Error(`${COMPILED_MAIN} is missing: run \`npm run build\` first (npm test does)`);
    return spawnSync(process.execPath, [COMPILED_MAIN, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, ECSDB_BENCH_SCALE: String(TINY_SCALE) },
      timeout: 50_000,
    });
  }

  it('prints one JSON document with every figure under --json, taking the scale from ECSDB_BENCH_SCALE', () => {
    const result = runMain(['--json']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout as string) as BenchReport;
    expect(report.plan.scale).toBe(TINY_SCALE);
    expectCompleteReport(report);
  });

  it('rejects an unknown flag with exit status 2 and the usage', () => {
    const result = runMain(['--fast']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--fast/);
    expect(result.stderr).toMatch(/usage:/);
    expect(result.stdout).toBe('');
  });
});

describe('report and targets', () => {
  const plan = planFor(TINY_SCALE);
  const notRun: Missing = { status: 'n/a', reason: 'not run here' };

  function figure(medianNsPerOp: number, updatesPerOp: number): Figure {
    return {
      status: 'ok',
      medianNsPerOp,
      minNsPerOp: medianNsPerOp,
      maxNsPerOp: medianNsPerOp,
      opsPerRun: 1,
      runs: 1,
      warmupRuns: 0,
      samplesNsPerOp: [medianNsPerOp],
      opsPerSecond: 1e9 / medianNsPerOp,
      updatesPerSecond: (1e9 / medianNsPerOp) * updatesPerOp,
    };
  }

  function row(workload: 'W1' | 'W2' | 'W2C' | 'W2L' | 'W2CL', mode: ResultRow['mode'], ecsdb: ResultRow['ecsdb'], ecsdbNs: number, sqliteNs: number): ResultRow {
    const updatesPerOp = workload === 'W1' ? 1 : 10_000;
    return {
      workload,
      title: workload,
      opUnit: workload === 'W1' ? 'commit' : 'tick',
      updatesPerOp,
      mode,
      ecsdb,
      raw: figure(1, updatesPerOp),
      sqlite: { ...figure(sqliteNs, updatesPerOp), synchronous: 'OFF' },
      ecsdbSpeedupOverSqlite: ecsdb.status === 'ok' ? sqliteNs / ecsdbNs : null,
      ecsdbOverRaw: ecsdb.status === 'ok' ? ecsdbNs : null,
    };
  }

  function groupCommitRow(mode: ResultRow['mode'], ecsdb: Figure | Missing, sqliteNs: number): TargetInputs['groupCommit'][number] {
    const synchronous = MODES.find((candidate) => candidate.name === mode)!.sqliteSynchronous;
    return {
      workload: 'W6',
      mode,
      inFlight: 1_000,
      ecsdb,
      sqlite: { ...figure(sqliteNs, 1_000), synchronous },
      ecsdbSpeedupOverSqlite: ecsdb.status === 'ok' ? sqliteNs / ecsdb.medianNsPerOp : null,
    };
  }

  /** Only the main table: every issue-3 figure not run. */
  function tableOnly(results: ResultRow[]): TargetInputs {
    return {
      results,
      fsyncFloor: notRun,
      strictOverFsyncFloor: { ecsdb: null, sqlite: null },
      groupCommit: [],
      walBytes: notRun,
      replay: [],
      snapshotOpen: [],
      snapshotWhileTicking: [],
      snapshotWhileTickingReused: [],
    };
  }

  const floor: FsyncFloor = {
    status: 'ok',
    appendSizeBytes: 40,
    appends: 1,
    medianNs: 190_000,
    meanNs: 200_000, // the strict figures are compared with the mean
    minNs: 180_000,
    p90Ns: 200_000,
    maxNs: 200_000,
    perSecond: 5_000,
    passMediansNs: [190_000, 210_000],
    asyncMedianNs: 260_000,
    asyncP90Ns: 300_000,
    asyncDsyncMedianNs: 240_000,
    asyncDsyncP90Ns: 280_000,
    asyncDsyncOverwriteMedianNs: 210_000,
    asyncDsyncOverwriteP90Ns: 260_000,
    asyncDsyncOverwriteMeanNs: 220_000, // 1.1x the floor's mean: below W1 strict's target
  };

  /** Every figure, each placed `good` or not relative to its target. */
  function everything(good: boolean): TargetInputs {
    const w1StrictNs = good ? 230_000 : 250_000; // the floor is 200 µs: 1.15x or 1.25x
    const tick = (workload: 'W2' | 'W2C' | 'W2L' | 'W2CL', mode: ResultRow['mode'], goodNs: number, badNs: number): ResultRow =>
      row(workload, mode, figure(good ? goodNs : badNs, 10_000), good ? goodNs : badNs, 8e6);
    const w2 = (mode: ResultRow['mode'], goodNs: number, badNs: number): ResultRow => tick('W2', mode, goodNs, badNs);
    const results = [
      row('W1', 'memory', figure(good ? 800 : 1_200, 1), good ? 800 : 1_200, 9_000),
      row('W1', 'buffered', figure(good ? 1_900 : 2_100, 1), good ? 1_900 : 2_100, 16_000),
      row('W1', 'strict', figure(w1StrictNs, 1), w1StrictNs, 250_000),
      w2('memory', 500_000, 1_000_000),
      w2('buffered', 400_000, 600_000), // 25 M or 16.7 M updates/s
      w2('strict', 600_000, 700_000), // 16.7 M or 14.3 M updates/s
      ...(['W2C', 'W2L', 'W2CL'] as const).flatMap((workload) => [
        tick(workload, 'buffered', 400_000, 600_000),
        tick(workload, 'strict', 600_000, 700_000),
      ]),
    ];
    const w6Ns = good ? 1.9e6 : 2.1e6; // per 1,000 commits: 526 k or 476 k commits/s
    return {
      results,
      fsyncFloor: floor,
      strictOverFsyncFloor: { ecsdb: w1StrictNs / floor.meanNs, sqlite: 250_000 / floor.meanNs },
      groupCommit: [
        groupCommitRow('memory', figure(1e6, 1_000), 9e6),
        groupCommitRow('buffered', figure(1.5e6, 1_000), 16e6),
        groupCommitRow('strict', figure(w6Ns, 1_000), 250e6),
      ],
      walBytes: {
        mode: 'buffered',
        ecsdb: { status: 'ok', commits: 10, walBytesGrowth: good ? 380 : 420, bytesPerCommit: good ? 38 : 42 },
        sqlite: { status: 'ok', synchronous: 'NORMAL', commits: 10, walBytesGrowth: 41_200, bytesPerCommit: 4_120, pageSizeBytes: 4096 },
        ecsdbSavingOverSqlite: 4_120 / (good ? 38 : 42),
      },
      // Memory has no directory; strict's figures sit on the other side of the buffered targets,
      // so a target that read the wrong mode's row would be judged wrongly.
      replay: [
        { workload: 'W4', mode: 'memory', ecsdb: noDirectory, sqlite: notRun },
        { workload: 'W4', mode: 'buffered', ecsdb: replay(good ? 400 : 600), sqlite: notRun },
        { workload: 'W4', mode: 'strict', ecsdb: replay(good ? 600 : 400), sqlite: notRun },
      ],
      snapshotOpen: [
        { workload: 'W4', mode: 'memory', ecsdb: noDirectory },
        { workload: 'W4', mode: 'buffered', ecsdb: snapshotOpen(good ? 800 : 1_200) },
        { workload: 'W4', mode: 'strict', ecsdb: snapshotOpen(good ? 1_300 : 700) },
      ],
      snapshotWhileTicking: [
        { workload: 'W5', mode: 'memory', ecsdb: noMemorySnapshot },
        { workload: 'W5', mode: 'buffered', ecsdb: snapshotWhileTicking(good, false) },
        { workload: 'W5', mode: 'strict', ecsdb: snapshotWhileTicking(!good, true) },
      ],
      snapshotWhileTickingReused: [
        { workload: 'W5', mode: 'memory', ecsdb: noMemorySnapshot },
        { workload: 'W5', mode: 'buffered', ecsdb: snapshotWhileTicking(good, false, 'reused', 0.5) },
        { workload: 'W5', mode: 'strict', ecsdb: snapshotWhileTicking(!good, true, 'reused', 0.5) },
      ],
    };
  }

  const noDirectory: Missing = { status: 'n/a', reason: 'no directory: nothing to recover' };
  const noMemorySnapshot: Missing = { status: 'n/a', reason: 'no snapshots in memory mode (db.snapshot(): CONFIG_INVALID: no directory)' };

  function replay(openMsMedian: number): Replay {
    return {
      status: 'ok',
      commits: 1_000_000,
      setupRecords: 10,
      walBytes: 40e6,
      segmentCount: 1,
      buildMs: 1,
      opens: 1,
      recordsReplayed: 1_000_010,
      openMsMedian,
      openMsMin: 1,
      openMsMax: 1,
      replayMsMedian: 1,
      commitsPerSecond: 1_000_010 / (openMsMedian / 1e3),
    };
  }

  const gcNone = { maxMs: 0, maxKind: '', totalMs: 0, count: 0 };

  function snapshotOpen(openMsMedian: number): SnapshotOpen {
    return {
      status: 'ok',
      entityCount: 1_000_000,
      snapshotBytes: 36 * 1024 * 1024,
      snapshotStartLsn: 100,
      snapshotEndLsn: 100,
      buildMs: 3_000,
      quietSnapshotMs: 450,
      opens: 5,
      openMsMedian,
      openMsMin: openMsMedian - 100,
      openMsMax: openMsMedian + 100,
      loadMsMedian: openMsMedian - 50,
      walRecordsReplayed: 0,
      config: { chunkSlots: 16_384, compress: false },
    };
  }

  /** W5 with figures on the good or bad side of its targets; strict's ticks await their durable. */
  /** `pauseFurtherMs`: how much further from the threshold (below when good, above when not) the pause is. */
  function snapshotWhileTicking(good: boolean, awaitsDurable: boolean, values: TickValues = 'fresh', pauseFurtherMs = 0): SnapshotWhileTicking {
    const run: SnapshotRun = {
      tickDurableWaitMsMedian: awaitsDurable ? 0.6 : null,
      tickDurableWaitMsMax: awaitsDurable ? 7 : null,
      durableMs: good ? 900 : 1_100,
      pauseMaxMs: good ? 1.5 - pauseFurtherMs : 2.5 + pauseFurtherMs,
      pauseP99Ms: 1,
      pauseOnCpuMaxMs: good ? 1.2 : 2.2,
      runQueueWaitMs: 100,
      pauseNetOfGcMaxMs: good ? 0.7 : 1.7,
      longestStepMs: good ? 1 : 3,
      chunkCount: 62,
      ticks: 300,
      tickMsMedian: 1.5,
      tickMsMax: 2,
      sizeBytes: 36 * 1024 * 1024,
      lsnSpan: 290,
      gc: { maxMs: 0.8, maxKind: 'minor', totalMs: 20, count: 30 },
    };
    return {
      status: 'ok',
      tickValues: values,
      entityCount: 1_000_000,
      tickEntityCount: 10_000,
      runs: [run, run, run],
      durableMsMedian: run.durableMs,
      durableMsMax: run.durableMs,
      pauseMaxMs: run.pauseMaxMs,
      pauseOnCpuMaxMs: run.pauseOnCpuMaxMs,
      pauseNetOfGcMaxMs: run.pauseNetOfGcMaxMs,
      longestStepMs: run.longestStepMs,
      ticksMedian: run.ticks,
      tickDurableWaitMsMax: run.tickDurableWaitMsMax,
      snapshotBytes: run.sizeBytes,
      gcMaxMs: run.gc.maxMs,
      gcMaxKind: run.gc.maxKind,
      baseline: {
        durationMs: 1_000,
        ticks: 600,
        pauseMaxMs: 0.5,
        pauseP99Ms: 0.2,
        tickMsMedian: 1.5,
        tickMsMax: 2,
        pauseOnCpuMaxMs: 0.4,
        runQueueWaitMs: 10,
        pauseNetOfGcMaxMs: 0.3,
        tickDurableWaitMsMedian: awaitsDurable ? 0.5 : null,
        tickDurableWaitMsMax: awaitsDurable ? 3 : null,
        gc: gcNone,
      },
      config: { chunkSlots: 16_384, compress: false },
      buildMs: 2_000,
    };
  }

  const statusById = (targets: TargetResult[]): Record<string, TargetResult['status']> =>
    Object.fromEntries(targets.map((target) => [target.id, target.status]));

  it('judges every target met when each figure is on the right side of its threshold, and not met otherwise', () => {
    const met = evaluateTargets(everything(true));
    expect(met.filter((target) => target.status !== 'met').map((target) => `${target.id}: ${target.measured}`)).toEqual([]);
    const notMet = evaluateTargets(everything(false));
    expect(notMet.filter((target) => target.status !== 'not met').map((target) => `${target.id}: ${target.measured}`)).toEqual([]);
    const byId = Object.fromEntries(met.map((target) => [target.id, target.measured]));
    expect(byId['w1-strict-vs-fsync-floor']).toBeCloseTo(1.15);
    expect(byId['w6-strict-group-commit']).toBeCloseTo((1e9 / 1.9e6) * 1_000, 3);
    expect(byId['w2-buffered-updates']).toBeCloseTo(25);
    expect(byId['wal-bytes-per-w1-commit']).toBe(38);
    expect(byId['w4-replay']).toBeCloseTo(2.5, 1);
    expect(byId['w4-snapshot-open']).toBe(800);
    expect(byId['w5-snapshot-durable']).toBe(900);
    expect(byId['w5-main-thread-pause']).toBe(1.5);
    expect(byId['w5-main-thread-pause-reused-value'], 'read from the reused-value rows').toBe(1);
    expect(byId['w5-longest-step']).toBe(1);
  });

  it("judges a target not met as beyond its limit only when the same run's limit misses the threshold too", () => {
    const withLimit = (limitNs: number, good: boolean): TargetResult => {
      const inputs = everything(good);
      const fsyncFloor = { ...floor, asyncDsyncOverwriteMeanNs: limitNs };
      return evaluateTargets({ ...inputs, fsyncFloor }).find((target) => target.id === 'w1-strict-vs-fsync-floor')!;
    };
    // ecsdb at 1.25x the floor: not met; the limit at 1.1x meets the target, at 1.3x does not.
    expect(withLimit(220_000, false)).toMatchObject({ status: 'not met', measured: 1.25, limit: { measured: 1.1 } });
    expect(withLimit(260_000, false)).toMatchObject({ status: 'beyond limit', measured: 1.25, limit: { measured: 1.3 } });
    // A limit never changes a target that is met, nor makes one met.
    expect(withLimit(260_000, true)).toMatchObject({ status: 'met', measured: 1.15 });
    // Targets without a limit have none in their result.
    expect(evaluateTargets(everything(false)).find((target) => target.id === 'w1-memory-commit-us')).not.toHaveProperty('limit');

    const inputs = everything(false);
    const fsyncFloor = { ...floor, asyncDsyncOverwriteMeanNs: 260_000 };
    const text = formatReport({ startedAt: new Date(0).toISOString(), durationMs: 1, machine: testMachine, plan, ...inputs, fsyncFloor, redis: REDIS_SKIPPED, targets: evaluateTargets({ ...inputs, fsyncFloor }) });
    expect(text).toMatch(/LIMIT +W1 strict, one commit at a time: <= 1\.2x the fsync floor: measured 1\.25 times the fsync floor\n +the limit: [^\n]*no ecsdb code\): 1\.3 times the fsync floor, itself beyond the target/);
    expect(text).toMatch(/the same into preallocated space [^\n]*mean 260 µs = 1\.3x the floor \(median 210, p90 260\)/);
  });

  it('judges a target n/a when its figure was not run or its mode is not available, and not met when it failed', () => {
    const issue2 = evaluateTargets(tableOnly([row('W1', 'memory', figure(800, 1), 800, 9_000), row('W2', 'memory', figure(500, 10), 500, 1_000)]));
    expect(statusById(issue2)).toMatchObject({ 'w1-memory-commit-us': 'met', 'w2-memory-vs-sqlite': 'not met' });
    for (const target of issue2.filter((candidate) => candidate.issue === 3)) expect(target.status, target.id).toBe('n/a');
    const notAvailable = evaluateTargets(tableOnly([row('W1', 'memory', { status: 'n/a', reason: 'not built' }, 0, 9_000)]));
    expect(statusById(notAvailable)).toMatchObject({ 'w1-memory-commit-us': 'n/a', 'w2-memory-vs-sqlite': 'n/a' });
    const failed = evaluateTargets(tableOnly([row('W1', 'memory', { status: 'failed', reason: 'hung' }, 0, 9_000)]));
    expect(failed[0]).toMatchObject({ status: 'not met', reason: 'hung', measured: null });

    const inputs = everything(true);
    const failedWal: TargetInputs = {
      ...inputs,
      walBytes: { ...(inputs.walBytes as Exclude<TargetInputs['walBytes'], Missing>), ecsdb: { status: 'failed', reason: 'ENOSPC' } },
      replay: [{ workload: 'W4', mode: 'buffered', ecsdb: { status: 'n/a', reason: 'buffered not built' }, sqlite: notRun }],
      fsyncFloor: notRun,
      snapshotOpen: [{ workload: 'W4', mode: 'buffered', ecsdb: { status: 'failed', reason: 'CORRUPT_SNAPSHOT' } }],
      snapshotWhileTicking: [],
      snapshotWhileTickingReused: [{ workload: 'W5', mode: 'buffered', ecsdb: { status: 'failed', reason: 'EIO' } }],
    };
    expect(statusById(evaluateTargets(failedWal))).toMatchObject({
      'wal-bytes-per-w1-commit': 'not met',
      'w4-replay': 'n/a',
      'w1-strict-vs-fsync-floor': 'n/a',
      'w6-strict-group-commit': 'met',
      'w4-snapshot-open': 'not met',
      'w5-snapshot-durable': 'n/a',
      'w5-main-thread-pause': 'n/a',
      'w5-main-thread-pause-reused-value': 'not met',
      'w5-longest-step': 'n/a',
    });
  });

  const testMachine: Machine = {
    cpuModel: 'Test CPU',
    cores: 2,
    node: 'v20.0.0',
    platform: 'linux',
    arch: 'x64',
    memoryBytes: 1,
    loadAverage1mAtStart: 0,
    loadAverage1mAtEnd: 0,
    tempDir: '/tmp',
    betterSqlite3: '12.0.0',
    sqlite: '3.0.0',
  };

  it('prints n/a and FAILED figures with their reasons instead of numbers', () => {
    const results = [
      row('W1', 'memory', figure(800, 1), 800, 9_000),
      row('W1', 'buffered', { status: 'n/a', reason: 'needs the WAL' }, 0, 9_000),
      row('W1', 'strict', { status: 'failed', reason: 'durable never resolved' }, 0, 9_000),
    ];
    const inputs: TargetInputs = {
      ...tableOnly(results),
      groupCommit: [groupCommitRow('strict', { status: 'failed', reason: 'W6 setup failed' }, 250e6)],
      walBytes: { ...(everything(true).walBytes as Exclude<TargetInputs['walBytes'], Missing>), ecsdb: { status: 'failed', reason: 'EIO' } },
    };
    const text = formatReport({ startedAt: new Date(0).toISOString(), durationMs: 1, machine: testMachine, plan, ...inputs, redis: REDIS_SKIPPED, targets: evaluateTargets(inputs) });
    expect(text).toMatch(/Test CPU, 2 cores, node v20\.0\.0/);
    expect(text).toMatch(/0\.8 µs\/commit/);
    expect(text).toMatch(/11\.3x faster/);
    expect(text).toMatch(/n\/a: ecsdb buffered: needs the WAL/);
    expect(text).toMatch(/FAILED: ecsdb strict W1: durable never resolved/);
    expect(text).toMatch(/FAILED: ecsdb W6 strict: W6 setup failed/);
    expect(text).toMatch(/FAILED: ecsdb WAL bytes: EIO/);
    expect(text).toMatch(/fsync floor: n\/a: not run here/);
    expect(text).toMatch(/MET +W1 memory: <= 1 µs per commit: measured 0\.8 µs per commit/);
    expect(text).toMatch(/NOT MET +WAL bytes per W1 commit: <= 40: no ecsdb figure \(EIO\)/);
    expect(text).toMatch(/n\/a +W4 replay: >= 2 M commits\/s: no ecsdb figure \(buffered mode was not run\)/);
  });

  it('prints Redis beside the matching ecsdb mode with the ratio', () => {
    const inputs = everything(true);
    const timing = (medianNsPerOp: number) => ({ medianNsPerOp, minNsPerOp: medianNsPerOp, maxNsPerOp: medianNsPerOp, opsPerRun: 1, runs: 1, warmupRuns: 0, samplesNsPerOp: [medianNsPerOp] });
    const redis = {
      status: 'ok' as const,
      serverPath: '/usr/bin/redis-server',
      version: '7.0.15',
      client: 'ioredis 6.0.0',
      modes: [
        { appendfsync: 'everysec' as const, ecsdbMode: 'buffered' as const, point: timing(57_000), tick: timing(120e6) },
        { appendfsync: 'always' as const, ecsdbMode: 'strict' as const, point: timing(460_000), tick: timing(130e6), inFlight: timing(20e6) },
      ],
    };
    const text = formatReport({ startedAt: new Date(0).toISOString(), durationMs: 1, machine: testMachine, plan, ...inputs, redis, targets: evaluateTargets(inputs) });
    expect(text).toMatch(/Redis 7\.0\.15 \(\/usr\/bin\/redis-server, client ioredis 6\.0\.0\)/);
    expect(text).toMatch(/W1 point commit +everysec \(buffered\) +1\.9 µs\/commit ±0% +57 µs\/commit ±0% +30x faster/);
    expect(text).toMatch(/W1 point commit +always \(strict\) +230 µs\/commit ±0% +460 µs\/commit ±0% +2x faster/);
    expect(text).toMatch(/W6 [\d,]+ in flight +always \(strict\) +1\.9 ms\/round ±0% +20 ms\/round ±0% +10\.5x faster/);
  });

  it('prints every issue-3 figure with its better-sqlite3 counterpart and ratio', () => {
    const inputs = everything(true);
    const text = formatReport({ startedAt: new Date(0).toISOString(), durationMs: 1, machine: testMachine, plan, ...inputs, redis: REDIS_SKIPPED, targets: evaluateTargets(inputs) });
    expect(text).toMatch(/fsync floor: 40-byte append \+ fdatasync on a file in \/tmp .*mean 200 µs \(median 190, min 180, p90 200, max 200\)/);
    expect(text).toMatch(/= 5 k appends\/s; the strict figures are compared with the mean/);
    expect(text).toMatch(/on an O_DSYNC file .*median 240 µs \(p90 280\) = 1\.26x the floor's median/);
    expect(text).toMatch(/through node:fs\/promises.*median 260 µs \(p90 300\)/);
    expect(text).toMatch(/sampled in 2 pass\(es\) around the strict figures, whose medians were 190, 210 µs/);
    expect(text).toMatch(/W1 strict \/ fsync floor +strict +1\.15x the floor +1\.25x the floor +1\.09x faster/);
    expect(text).toMatch(/W6 1,000 commits +memory +1 ms\/1,000 ±0% +9 ms\/1,000 ±0% +9x faster/);
    expect(text).toMatch(/W6 1,000 commits +buffered +1\.5 ms\/1,000 ±0% +16 ms\/1,000 ±0% +10\.7x faster/);
    expect(text).toMatch(/W6 1,000 commits +strict +1\.9 ms\/1,000 ±0% +250 ms\/1,000 ±0% +132x faster/);
    expect(text).toMatch(/526 k commits\/s +4 k commits\/s/);
    expect(text).toMatch(/WAL bytes per W1 commit +buffered +38 B\/commit +4,120 B\/commit +108x fewer bytes/);
    expect(text).toMatch(/W4 replay on open\(\) +buffered +2\.5 M commits\/s +n\/a/);
    expect(text).toMatch(/open 400 ms \(median of 1\),/);
    expect(text).toMatch(/replay 1 ms of it \(db\.recovery\)/);
    expect(text).toMatch(/W4 replay on open\(\) +strict +1\.67 M commits\/s +n\/a/);
    expect(text).toMatch(/W4 replay on open\(\) +memory +n\/a +n\/a/);
    expect(text).toMatch(/n\/a: ecsdb W4 memory: no directory: nothing to recover/);
    expect(text).toMatch(/n\/a: better-sqlite3 W4: not run here/);
  });

  it('prints the snapshot figures: W4 from a snapshot and W5 with its pauses, ticks and baseline', () => {
    const inputs = everything(false);
    const text = formatReport({ startedAt: new Date(0).toISOString(), durationMs: 1, machine: testMachine, plan, ...inputs, redis: REDIS_SKIPPED, targets: evaluateTargets(inputs) });
    expect(text).toMatch(/snapshot chunkSlots 16,384, compress off/);
    expect(text).toMatch(/W4 open\(\) from a snapshot +buffered +open 1,200 ms \(median of 5; min 1,100, max 1,300\)/);
    expect(text).toMatch(/snapshot load 1,150 ms of it/);
    expect(text).toMatch(/0 WAL records replayed after it; snapshot 36 MiB/);
    expect(text).toMatch(/that snapshot took 450 ms with nothing committing/);
    expect(text).toMatch(/W5 snapshot while ticking +buffered +durable in 1,100 ms \(median of 3; runs 1,100, 1,100, 1,100 ms\)/);
    expect(text).toMatch(/longest pause 2\.5 ms \(bench; per run 2\.5, 2\.5, 2\.5 ms;/);
    expect(text).toMatch(/99th percentile of the gaps per run 1, 1, 1 ms\)/);
    expect(text).toMatch(/without the main thread's run-queue waits: longest 2\.2 ms \(per run 2\.2, 2\.2, 2\.2 ms\);/);
    expect(text).toMatch(/it waited for a CPU 100, 100, 100 ms per run \(Linux schedstat\)/);
    expect(text).toMatch(/without run-queue waits longest 0\.4 ms; it waited for a CPU 10 ms/);
    expect(text).toMatch(/without the garbage collections in each gap: longest 1\.7 ms \(per run 1\.7, 1\.7, 1\.7 ms\)/);
    expect(text).toMatch(/without the collections in each gap longest 0\.3 ms/);
    expect(text).toMatch(/longestStepMs 3 ms \(ecsdb's own, whole ms; per run 3, 3, 3\)/);
    expect(text).toMatch(/300 W2 ticks completed during it \(median; per run 300, 300, 300\)/);
    expect(text).toMatch(/snapshot 36 MiB in 62 chunk\(s\)/);
    expect(text).toMatch(/GC during it: longest 0\.8 ms \(minor\), total per run 20, 20, 20 ms/);
    expect(text).toMatch(/no snapshot: 600 ticks alone over 1,000 ms: longest pause 0\.5 ms,/);
    expect(text).toMatch(/W4 open\(\) from a snapshot +strict +open 700 ms \(median of 5; min 600, max 800\)/);
    expect(text).toMatch(/W5 snapshot while ticking +strict +durable in 900 ms/);
    expect(text).toMatch(/each awaited its durable: median wait per run 0\.6, 0\.6, 0\.6 ms,\n.*longest 7 ms \(without a snapshot: median 0\.5 ms, longest 3 ms\)/);
    expect(text.match(/each awaited its durable/g), 'only strict ticks (both kinds) await their durable').toHaveLength(2);
    expect(text).toMatch(/^\(1,000,000 entities, +longest pause 2\.5 ms .*\n^ticks of 10,000\) /m);
    expect(text).toMatch(/^\(1,000,000 entities, +longest pause 3 ms .*\n^ticks of 10,000, .*\n^one value object each\)/m);
    expect(text).toMatch(/n\/a: W4 from a snapshot memory: no directory: nothing to recover/);
    expect(text).toMatch(/n\/a: W5 memory: no snapshots in memory mode \(db\.snapshot\(\): CONFIG_INVALID: no directory\)/);
    expect(text).toMatch(/NOT MET +W4 open\(\) from a 1,000,000-entity snapshot: <= 1 s: measured 1,200 ms/);
    expect(text).toMatch(/NOT MET +W5 snapshot of 1,000,000 entities while ticking: durable <= 1 s: measured 1,100 ms/);
    expect(text).toMatch(/NOT MET +W5 longest main-thread pause \(the bench's gap between ticks\): <= 2 ms: measured 2\.5 ms/);
    expect(text).toMatch(/NOT MET +W5 longest main-thread pause, ticks with one value object each \(no garbage of their own\): <= 2 ms: measured 3 ms/);
    expect(text).toMatch(/NOT MET +W5 longest snapshot step \(ecsdb's own longestStepMs\): <= 2 ms: measured 3 ms/);
  });
});
