/**
 * The human-readable form of a BenchReport: a header, the figures table, the durability and
 * recovery table, the snapshot table, the targets.
 */
import { formatEncryptionCost } from './encryption.js';
import { formatPolledStrict } from './poll.js';
import type { SnapshotOpen, SnapshotWhileTicking } from './ecsdb-snapshot.js';
import type { FsyncFloor } from './fsync-floor.js';
import type {
  BenchReport,
  Figure,
  GroupCommitRow,
  Missing,
  ReplayRow,
  ResultRow,
  SnapshotOpenRow,
  SnapshotWhileTickingRow,
  StrictOverFsyncFloor,
  WalBytesRow,
} from './run.js';
import type { RedisModeTimings } from './redis.js';
import type { Timing } from './stats.js';
import type { TargetResult } from './targets.js';
import type { WorkloadId } from './workloads.js';

/** The time unit each workload is read in (the spec quotes W1 in µs and W2 in ms). */
const TIME_UNIT: Record<WorkloadId, { label: string; ns: number }> = {
  W1: { label: 'µs', ns: 1e3 },
  W2: { label: 'ms', ns: 1e6 },
  W2C: { label: 'ms', ns: 1e6 },
  W2L: { label: 'ms', ns: 1e6 },
  W2CL: { label: 'ms', ns: 1e6 },
  W3: { label: 'ms', ns: 1e6 },
  W6: { label: 'ms', ns: 1e6 },
};

/** The rate's unit where it is not entity updates: W3 counts entities created (it destroys as many). */
const RATE_UNIT: Partial<Record<WorkloadId, string>> = { W3: 'entities/s' };

const HEADERS = ['workload', 'mode', 'ecsdb', 'raw Float32Array', 'better-sqlite3 (WAL)', 'ecsdb vs sqlite', 'ecsdb / raw'];
const WAL_HEADERS = ['figure', 'mode', 'ecsdb', 'better-sqlite3 (WAL)', 'ecsdb vs sqlite'];
const SNAPSHOT_HEADERS = ['figure', 'mode', 'ecsdb'];

/** A table cell: one line per text line of its row. */
type Cell = readonly string[];

export function formatReport(report: BenchReport): string {
  const { machine, plan } = report;
  const lines = [
    `ecsdb bench: ${machine.cpuModel}, ${machine.cores} cores, node ${machine.node} ${machine.platform} ${machine.arch}, ` +
      `better-sqlite3 ${machine.betterSqlite3} (SQLite ${machine.sqlite})`,
    `world: ${count(plan.entityCount)} entities with Position {x, y, z: f32}; a W2 tick updates ${count(plan.tickEntityCount)}; ` +
      `scale ${plan.scale}`,
    `each figure: median of ${plan.measure.runs} runs of ~${count(plan.measure.runTargetNs / 1e6)} ms after ` +
      `${plan.measure.warmupRuns} warm-up run(s), ±: (slowest - fastest run) / median; second line: rate at the median`,
    `files in ${machine.tempDir}; load average at start ${machine.loadAverage1mAtStart.toFixed(2)}` +
      (machine.loadAverage1mAtStart > machine.cores / 2 ? ' (the machine was busy: expect noisy figures)' : ''),
    '',
    ...formatTable(HEADERS, report.results.map(resultCells)),
    '',
    ...missingNotes(report.results),
    'durability and recovery (ecsdb memory ~ better-sqlite3 OFF, buffered ~ NORMAL, strict ~ FULL):',
    ...formatFsyncFloor(report.fsyncFloor, machine.tempDir),
    '',
    ...formatTable(WAL_HEADERS, walCells(report)),
    '',
    ...walNotes(report),
    ...formatEncryptionCost(report.encryption),
    ...formatPolledStrict(report.polledStrict),
    ...formatSnapshots(report),
    ...formatRedis(report),
    `targets (SPEC.md Performance, issues 2, 3, 4 and 7)${
      plan.scale === 1 ? '' : `, judged at scale ${plan.scale} (not the spec's sizes, and short runs): indicative only`
    }:`,
    ...report.targets.map(formatTarget),
    '',
    `bench took ${(report.durationMs / 1e3).toFixed(1)} s; load average ${machine.loadAverage1mAtStart.toFixed(2)} at start, ` +
      `${machine.loadAverage1mAtEnd.toFixed(2)} at end`,
  ];
  return lines.join('\n');
}

function formatTable(headers: readonly string[], rows: readonly Cell[][]): string[] {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.flatMap((row) => row[column].map((line) => line.length))));
  const render = (values: readonly string[]): string =>
    values
      .map((value, column) => value.padEnd(widths[column]))
      .join('  ')
      .trimEnd();
  const lines = [render(headers), render(widths.map((width) => '-'.repeat(width)))];
  for (const row of rows) {
    const height = Math.max(...row.map((cell) => cell.length));
    for (let line = 0; line < height; line++) lines.push(render(row.map((cell) => cell[line] ?? '')));
  }
  return lines;
}

/** A main-table row is two lines: the time per operation, then the rate it gives. */
function resultCells(row: ResultRow): Cell[] {
  return [
    [`${row.workload} ${row.title}`, ''],
    [row.mode, `sqlite ${row.sqlite.synchronous}`],
    figureCell(row, row.ecsdb),
    figureCell(row, row.raw),
    figureCell(row, row.sqlite),
    [row.ecsdbSpeedupOverSqlite === null ? '-' : speedup(row.ecsdbSpeedupOverSqlite), ''],
    [row.ecsdbOverRaw === null ? '-' : `${sig3(row.ecsdbOverRaw)}x`, ''],
  ];
}

function figureCell(row: Pick<ResultRow, 'workload' | 'opUnit' | 'updatesPerOp'>, figure: Figure | Missing, rateUnit = RATE_UNIT[row.workload]): Cell {
  if (figure.status !== 'ok') return missingCell(figure);
  const unit = TIME_UNIT[row.workload];
  const rate =
    rateUnit !== undefined
      ? `${rateOf(figure.updatesPerSecond)} ${rateUnit}`
      : row.updatesPerOp === 1
        ? `${rateOf(figure.opsPerSecond)} ${row.opUnit}s/s`
        : `${rateOf(figure.updatesPerSecond)} updates/s`;
  const spreadPercent = (100 * (figure.maxNsPerOp - figure.minNsPerOp)) / figure.medianNsPerOp;
  return [`${sig3(figure.medianNsPerOp / unit.ns)} ${unit.label}/${row.opUnit} ±${Math.round(spreadPercent)}%`, rate];
}

function missingCell(missing: Missing): Cell {
  return missing.status === 'n/a' ? ['n/a', ''] : ['FAILED', '(see below)'];
}

/** A cell's first line only: the snapshot table's missing figures take one line (the notes say why). */
function oneLine(cell: Cell): Cell {
  return cell.slice(0, 1);
}

function formatFsyncFloor(floor: FsyncFloor | Missing, tempDir: string): string[] {
  if (floor.status !== 'ok') return [`fsync floor: ${floor.status}: ${floor.reason}`];
  return [
    `fsync floor: ${floor.appendSizeBytes}-byte append + fdatasync on a file in ${tempDir} (node:fs, sync): ` +
      `mean ${sig3(floor.meanNs / 1e3)} µs (median ${sig3(floor.medianNs / 1e3)}, min ${sig3(floor.minNs / 1e3)}, p90 ${sig3(floor.p90Ns / 1e3)}, ` +
      `max ${sig3(floor.maxNs / 1e3)}) over ${count(floor.appends)} appends = ${rateOf(floor.perSecond)} appends/s; ` +
      `the strict figures are compared with the mean (like theirs, a run's time over its operations)`,
    `  sampled in ${floor.passMediansNs.length} pass(es) around the strict figures, whose medians were ` +
      `${floor.passMediansNs.map((ns) => sig3(ns / 1e3)).join(', ')} µs`,
    `  the same through node:fs/promises (write, then datasync, each awaited; ecsdb with wal.syncMethod = "fdatasync"): ` +
      `median ${sig3(floor.asyncMedianNs / 1e3)} µs (p90 ${sig3(floor.asyncP90Ns / 1e3)})`,
    `  through node:fs/promises on an O_DSYNC file (one awaited write; ecsdb's default "dsync"): ` +
      `median ${sig3(floor.asyncDsyncMedianNs / 1e3)} µs (p90 ${sig3(floor.asyncDsyncP90Ns / 1e3)}) = ` +
      `${sig3(floor.asyncDsyncMedianNs / floor.medianNs)}x the floor's median`,
    `  the same into preallocated space (zeros made durable first, as ecsdb's WAL writes; a strict commit's disk operation ` +
      `with no ecsdb code): mean ${sig3(floor.asyncDsyncOverwriteMeanNs / 1e3)} µs = ${sig3(floor.asyncDsyncOverwriteMeanNs / floor.meanNs)}x the floor ` +
      `(median ${sig3(floor.asyncDsyncOverwriteMedianNs / 1e3)}, p90 ${sig3(floor.asyncDsyncOverwriteP90Ns / 1e3)})`,
  ];
}

/** The durability and recovery table: W1 strict against the floor, W6, WAL bytes, W4. */
function walCells(report: BenchReport): Cell[][] {
  const rows: Cell[][] = [];
  const strict = report.results.find((row) => row.workload === 'W1' && row.mode === 'strict');
  if (strict !== undefined) rows.push(strictFloorCells(strict, report.strictOverFsyncFloor));
  rows.push(...report.groupCommit.map(groupCommitCells));
  if ('ecsdb' in report.walBytes) rows.push(walBytesCells(report.walBytes));
  else rows.push(notRunCells('WAL bytes per W1 commit', report.walBytes));
  rows.push(...report.replay.map(replayCells));
  return rows;
}

function strictFloorCells(row: ResultRow, ratios: StrictOverFsyncFloor): Cell[] {
  const ecsdbUs = row.ecsdb.status === 'ok' ? `${sig3(row.ecsdb.medianNsPerOp / 1e3)} µs/commit` : '';
  return [
    ['W1 strict / fsync floor', '(one at a time)'],
    ['strict', `sqlite ${row.sqlite.synchronous}`],
    ratios.ecsdb === null ? (row.ecsdb.status === 'ok' ? ['-', ecsdbUs] : missingCell(row.ecsdb)) : [`${sig3(ratios.ecsdb)}x the floor`, ecsdbUs],
    ratios.sqlite === null ? ['-'] : [`${sig3(ratios.sqlite)}x the floor`, `${sig3(row.sqlite.medianNsPerOp / 1e3)} µs/commit`],
    [row.ecsdbSpeedupOverSqlite === null ? '-' : speedup(row.ecsdbSpeedupOverSqlite)],
  ];
}

function groupCommitCells(row: GroupCommitRow): Cell[] {
  const shape = { workload: row.workload, opUnit: `${count(row.inFlight)}`, updatesPerOp: row.inFlight };
  return [
    [`W6 ${count(row.inFlight)} commits`, 'in flight'],
    [row.mode, `sqlite ${row.sqlite.synchronous}`],
    figureCell(shape, row.ecsdb, 'commits/s'),
    [...figureCell(shape, row.sqlite, 'commits/s'), `(${count(row.inFlight)} transactions)`],
    [row.ecsdbSpeedupOverSqlite === null ? '-' : speedup(row.ecsdbSpeedupOverSqlite)],
  ];
}

function walBytesCells(row: WalBytesRow): Cell[] {
  const { ecsdb, sqlite } = row;
  return [
    ['WAL bytes per W1 commit', '(growth after setup)'],
    [row.mode, `sqlite ${sqlite.synchronous}`],
    ecsdb.status === 'ok' ? [`${sig3(ecsdb.bytesPerCommit)} B/commit`, `over ${count(ecsdb.commits)} commits`] : missingCell(ecsdb),
    [`${sig3(sqlite.bytesPerCommit)} B/commit`, `-wal file, ${count(sqlite.pageSizeBytes)} B pages`],
    [row.ecsdbSavingOverSqlite === null ? '-' : `${sig3(row.ecsdbSavingOverSqlite)}x fewer bytes`],
  ];
}

function replayCells(row: ReplayRow): Cell[] {
  const { ecsdb } = row;
  const commits = ecsdb.status === 'ok' ? `${count(ecsdb.commits)} W1 commits` : 'W1 commits';
  return [
    ['W4 replay on open()', `(${commits})`],
    [row.mode],
    ecsdb.status === 'ok'
      ? [
          `${rateOf(ecsdb.commitsPerSecond)} commits/s`,
          `open ${sig3(ecsdb.openMsMedian)} ms (median of ${ecsdb.opens}),`,
          `replay ${sig3(ecsdb.replayMsMedian)} ms of it (db.recovery)`,
          `${count(ecsdb.recordsReplayed)} records, ${mib(ecsdb.walBytes)} MiB`,
        ]
      : missingCell(ecsdb),
    missingCell(row.sqlite),
    ['-'],
  ];
}

function notRunCells(title: string, missing: Missing): Cell[] {
  return [[title], ['-'], missingCell(missing), ['-'], ['-']];
}

/** Why figures of the durability table are missing, one line each. */
function walNotes(report: BenchReport): string[] {
  const notes: string[] = [];
  const add = (what: string, missing: Missing): void => {
    notes.push(`${missing.status === 'n/a' ? 'n/a' : 'FAILED'}: ${what}: ${missing.reason}`);
  };
  if (report.fsyncFloor.status !== 'ok') add('fsync floor', report.fsyncFloor);
  const { groupCommit, walBytes, replay } = report;
  for (const row of groupCommit) if (row.ecsdb.status !== 'ok') add(`ecsdb W6 ${row.mode}`, row.ecsdb);
  if (!('ecsdb' in walBytes)) add('WAL bytes', walBytes);
  else if (walBytes.ecsdb.status !== 'ok') add('ecsdb WAL bytes', walBytes.ecsdb);
  for (const row of replay) if (row.ecsdb.status !== 'ok') add(`ecsdb W4 ${row.mode}`, row.ecsdb);
  if (replay.length > 0) add('better-sqlite3 W4', replay[0].sqlite);
  return notes.length === 0 ? [] : [...notes, ''];
}

/** The snapshot table (W4 from a snapshot, W5) with its heading and any notes. */
function formatSnapshots(report: BenchReport): string[] {
  const { plan } = report;
  const settings = plan.snapshot;
  const config = snapshotConfigOf(report);
  const lines = [
    `snapshots (ecsdb buffered and strict, automatic snapshots off): a world of ${count(settings.entityCount)} entities with Position {x, y, z: f32}, ` +
      `Velocity {dx, dy, dz: f32}, Health {hp: i32}` +
      (config === undefined ? '' : `; snapshot chunkSlots ${count(config.chunkSlots)}, compress ${config.compress ? 'on' : 'off'}`),
  ];
  if (settings.entityCount !== 1_000_000) lines.push(`  (the spec's world is 1,000,000 entities: at scale ${plan.scale} these figures are indicative only)`);
  lines.push(
    `  W5 pause: the longest time between the end of one tick and the start of the next (process.hrtime), over every measured snapshot`,
    `  (strict: each tick awaits its durable before the loop yields; the pause is counted from when the loop has it back)`,
    `  W5 runs with W2's ticks (tx.set with a value object per entity) and again, in a world of its own, with one value object per tick (no garbage of the tick's own)`,
    '',
    ...formatTable(SNAPSHOT_HEADERS, [
      ...report.snapshotOpen.map(snapshotOpenCells),
      ...report.snapshotWhileTicking.map(snapshotWhileTickingCells),
      // Memory mode's n/a is the same for both: shown once.
      ...report.snapshotWhileTickingReused.filter((row) => row.ecsdb.status !== 'n/a').map(snapshotWhileTickingCells),
    ]),
    '',
  );
  const notes: string[] = [];
  for (const [what, rows] of [
    ['W4 from a snapshot', report.snapshotOpen],
    ['W5', report.snapshotWhileTicking],
    ['W5 with one value object per tick', report.snapshotWhileTickingReused.filter((row) => row.ecsdb.status !== 'n/a')],
  ] as const) {
    for (const { mode, ecsdb } of rows) {
      if (ecsdb.status !== 'ok') notes.push(`${ecsdb.status === 'n/a' ? 'n/a' : 'FAILED'}: ${what} ${mode}: ${ecsdb.reason}`);
    }
  }
  return notes.length === 0 ? lines : [...lines, ...notes, ''];
}

function snapshotConfigOf(report: BenchReport): SnapshotOpen['config'] | undefined {
  for (const row of [...report.snapshotWhileTicking, ...report.snapshotOpen]) {
    if (row.ecsdb.status === 'ok') return row.ecsdb.config;
  }
  return undefined;
}

function snapshotOpenCells(row: SnapshotOpenRow): Cell[] {
  const title = ['W4 open() from a snapshot'];
  const w4 = row.ecsdb;
  if (w4.status !== 'ok') return [title, [row.mode], oneLine(missingCell(w4))];
  return [
    [...title, `(${count(w4.entityCount)} entities)`],
    [row.mode],
    [
      `open ${ms(w4.openMsMedian)} (median of ${w4.opens}; min ${sig3(w4.openMsMin)}, max ${sig3(w4.openMsMax)})`,
      `snapshot load ${ms(w4.loadMsMedian)} of it (db.recovery.snapshot.loadMs, median)`,
      `${count(w4.walRecordsReplayed)} WAL records replayed after it; snapshot ${mib(w4.snapshotBytes)} MiB`,
      `(that snapshot took ${ms(w4.quietSnapshotMs)} with nothing committing)`,
    ],
  ];
}

function snapshotWhileTickingCells(row: SnapshotWhileTickingRow): Cell[] {
  const title = ['W5 snapshot while ticking'];
  const w5 = row.ecsdb;
  if (w5.status !== 'ok') return [title, [row.mode], oneLine(missingCell(w5))];
  const { baseline } = w5;
  const runs = w5.runs.length;
  const perRun = (pick: (run: SnapshotWhileTicking['runs'][number]) => number): string => w5.runs.map((run) => sig3(pick(run))).join(', ');
  return [
    [
      ...title,
      `(${count(w5.entityCount)} entities,`,
      ...(w5.tickValues === 'fresh' ? [`ticks of ${count(w5.tickEntityCount)})`] : [`ticks of ${count(w5.tickEntityCount)},`, 'one value object each)']),
    ],
    [row.mode],
    [
      `durable in ${ms(w5.durableMsMedian)} (median of ${runs}; runs ${perRun((run) => run.durableMs)} ms)`,
      `longest pause ${ms(w5.pauseMaxMs)} (bench; per run ${perRun((run) => run.pauseMaxMs)} ms;`,
      `  99th percentile of the gaps per run ${perRun((run) => run.pauseP99Ms)} ms)`,
      ...(w5.pauseOnCpuMaxMs === null
        ? []
        : [
            `  without the main thread's run-queue waits: longest ${ms(w5.pauseOnCpuMaxMs)} (per run ${perRun((run) => run.pauseOnCpuMaxMs ?? 0)} ms);`,
            `  it waited for a CPU ${perRun((run) => run.runQueueWaitMs ?? 0)} ms per run (Linux schedstat)`,
          ]),
      `  without the garbage collections in each gap: longest ${ms(w5.pauseNetOfGcMaxMs)} (per run ${perRun((run) => run.pauseNetOfGcMaxMs)} ms)`,
      `longestStepMs ${ms(w5.longestStepMs)} (ecsdb's own, whole ms; per run ${perRun((run) => run.longestStepMs)})`,
      `${count(w5.ticksMedian)} W2 ticks completed during it (median; per run ${perRun((run) => run.ticks)})`,
      `  tick median per run ${perRun((run) => run.tickMsMedian)} ms`,
      ...(w5.tickDurableWaitMsMax === null
        ? []
        : [
            `  each awaited its durable: median wait per run ${perRun((run) => run.tickDurableWaitMsMedian ?? 0)} ms,`,
            `  longest ${ms(w5.tickDurableWaitMsMax)} (without a snapshot: median ${ms(baseline.tickDurableWaitMsMedian ?? 0)}, longest ${ms(baseline.tickDurableWaitMsMax ?? 0)})`,
          ]),
      `snapshot ${mib(w5.snapshotBytes)} MiB in ${count(w5.runs[0].chunkCount)} chunk(s)`,
      `GC during it: longest ${ms(w5.gcMaxMs)}${w5.gcMaxKind === '' ? '' : ` (${w5.gcMaxKind})`}, total per run ${perRun((run) => run.gc.totalMs)} ms`,
      `no snapshot: ${count(baseline.ticks)} ticks alone over ${ms(baseline.durationMs)}: longest pause ${ms(baseline.pauseMaxMs)},`,
      `  p99 ${ms(baseline.pauseP99Ms)}, tick median ${ms(baseline.tickMsMedian)}, GC longest ${ms(baseline.gc.maxMs)}${baseline.gc.maxKind === '' ? '' : ` (${baseline.gc.maxKind})`}` +
        (baseline.pauseOnCpuMaxMs === null ? '' : `,`),
      ...(baseline.pauseOnCpuMaxMs === null
        ? []
        : [`  without run-queue waits longest ${ms(baseline.pauseOnCpuMaxMs)}; it waited for a CPU ${ms(baseline.runQueueWaitMs ?? 0)}`]),
      `  without the collections in each gap longest ${ms(baseline.pauseNetOfGcMaxMs)}`,
    ],
  ];
}

/** Why ecsdb figures are missing: one line per mode that is not available, one per failure. */
function missingNotes(rows: readonly ResultRow[]): string[] {
  const notes = new Set<string>();
  for (const row of rows) {
    if (row.ecsdb.status === 'n/a') notes.add(`n/a: ecsdb ${row.mode}: ${row.ecsdb.reason}`);
    if (row.ecsdb.status === 'failed') notes.add(`FAILED: ecsdb ${row.mode} ${row.workload}: ${row.ecsdb.reason}`);
  }
  return notes.size === 0 ? [] : [...notes, ''];
}

const TARGET_STATUS_LABELS: Record<TargetResult['status'], string> = {
  met: 'MET    ',
  'not met': 'NOT MET',
  'beyond limit': 'LIMIT  ',
  'n/a': 'n/a    ',
};

function formatTarget(target: TargetResult): string {
  const measured =
    target.measured === null ? `no ecsdb figure${target.reason === undefined ? '' : ` (${target.reason})`}` : `measured ${sig3(target.measured)} ${target.unit}`;
  const line = `  ${TARGET_STATUS_LABELS[target.status]}  ${target.description}: ${measured}`;
  if (target.limit === undefined) return line;
  return `${line}\n             ${target.limit.description}: ${sig3(target.limit.measured)} ${target.unit}${
    target.status === 'beyond limit' ? ', itself beyond the target' : ''
  }`;
}

function ms(value: number): string {
  return `${sig3(value)} ms`;
}

function mib(bytes: number): string {
  return sig3(bytes / (1024 * 1024));
}

function speedup(ratio: number): string {
  return ratio >= 1 ? `${sig3(ratio)}x faster` : `${sig3(1 / ratio)}x slower`;
}

/** A rate with a k/M/G suffix and three significant digits. */
function rateOf(perSecond: number): string {
  const steps: [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, suffix] of steps) if (perSecond >= size) return `${sig3(perSecond / size)} ${suffix}`;
  return sig3(perSecond);
}

/** Three significant digits, never in exponent notation. */
function sig3(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return count(Math.round(value));
  return Number(value.toPrecision(3)).toString();
}

function count(value: number): string {
  return value.toLocaleString('en-US');
}

const REDIS_HEADERS = ['workload', 'Redis AOF (ecsdb mode)', 'ecsdb', 'Redis', 'ecsdb vs Redis'];

/**
 * Redis beside ecsdb: each Redis fsync setting against the ecsdb mode with the same guarantee,
 * W1 against one awaited HSET, W2 against one MULTI/EXEC of the tick's HSETs, W6 against as
 * many HSETs in flight. "ecsdb vs Redis" is Redis's time / ecsdb's.
 */
function formatRedis(report: BenchReport): string[] {
  const redis = report.redis;
  if (redis.status !== 'ok') return [`Redis: ${redis.status === 'skipped' ? 'skipped' : 'FAILED'}: ${redis.reason}`, ''];
  const rows: Cell[][] = [];
  const ecsdbRow = (workload: WorkloadId, mode: string): ResultRow | undefined =>
    report.results.find((row) => row.workload === workload && row.mode === mode);
  for (const mode of redis.modes) {
    rows.push(redisCells('W1 point commit', 'W1', 1, 'commit', mode, mode.point, ecsdbRow('W1', mode.ecsdbMode)?.ecsdb));
    rows.push(redisCells('W2 tick (MULTI/EXEC)', 'W2', report.plan.tickEntityCount, 'tick', mode, mode.tick, ecsdbRow('W2', mode.ecsdbMode)?.ecsdb));
    if (mode.inFlight !== undefined) {
      const w6 = report.groupCommit.find((row) => row.mode === mode.ecsdbMode)?.ecsdb;
      rows.push(redisCells(`W6 ${count(report.plan.groupCommitInFlight)} in flight`, 'W6', report.plan.groupCommitInFlight, 'round', mode, mode.inFlight, w6, 'commits/s'));
    }
  }
  return [
    `Redis ${redis.version} (${redis.serverPath}, client ${redis.client}) on loopback, AOF on, RDB off; ` +
      'everysec ~ ecsdb buffered, always ~ ecsdb strict:',
    ...formatTable(REDIS_HEADERS, rows),
    '',
  ];
}

function redisCells(
  title: string,
  workload: WorkloadId,
  updatesPerOp: number,
  opUnit: string,
  mode: RedisModeTimings,
  redis: Timing,
  ecsdb: Figure | Missing | undefined,
  rateUnit?: string,
): Cell[] {
  const shape = { workload, opUnit, updatesPerOp };
  const redisFigure: Figure = { ...redis, status: 'ok', opsPerSecond: 1e9 / redis.medianNsPerOp, updatesPerSecond: (1e9 * updatesPerOp) / redis.medianNsPerOp };
  const ecsdbCell = ecsdb === undefined ? ['not run', ''] : figureCell(shape, ecsdb, rateUnit);
  const ratio = ecsdb?.status === 'ok' ? speedup(redis.medianNsPerOp / ecsdb.medianNsPerOp) : '-';
  return [[title, ''], [`${mode.appendfsync} (${mode.ecsdbMode})`, ''], ecsdbCell, figureCell(shape, redisFigure, rateUnit), [ratio, '']];
}
