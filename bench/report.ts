/** The human-readable form of a BenchReport: a header, the figures table, the targets. */
import type { BenchReport, Figure, Missing, ResultRow } from './run.js';
import type { TargetResult } from './targets.js';
import type { WorkloadId } from './workloads.js';

/** The time unit each workload is read in (the spec quotes W1 in µs and W2 in ms). */
const TIME_UNIT: Record<WorkloadId, { label: string; ns: number }> = {
  W1: { label: 'µs', ns: 1e3 },
  W2: { label: 'ms', ns: 1e6 },
};

const HEADERS = ['workload', 'mode', 'ecsdb', 'raw Float32Array', 'better-sqlite3 (WAL)', 'ecsdb vs sqlite', 'ecsdb / raw'];

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
    ...formatTable(report.results),
    '',
    ...missingNotes(report.results),
    'targets (SPEC.md Performance, issue 2):',
    ...report.targets.map(formatTarget),
    '',
    `bench took ${(report.durationMs / 1e3).toFixed(1)} s`,
  ];
  return lines.join('\n');
}

function formatTable(rows: readonly ResultRow[]): string[] {
  // Every row is two lines: the time per operation, then the rate it gives.
  const cells: string[][][] = rows.map((row) => [
    [`${row.workload} ${row.title}`, ''],
    [row.mode, `sqlite ${row.sqlite.synchronous}`],
    figureCell(row, row.ecsdb),
    figureCell(row, row.raw),
    figureCell(row, row.sqlite),
    [row.ecsdbSpeedupOverSqlite === null ? '-' : speedup(row.ecsdbSpeedupOverSqlite), ''],
    [row.ecsdbOverRaw === null ? '-' : `${sig3(row.ecsdbOverRaw)}x`, ''],
  ]);
  const widths = HEADERS.map((header, column) => Math.max(header.length, ...cells.flatMap((row) => row[column].map((line) => line.length))));
  const render = (values: readonly string[]): string =>
    values
      .map((value, column) => value.padEnd(widths[column]))
      .join('  ')
      .trimEnd();
  const lines = [render(HEADERS), render(widths.map((width) => '-'.repeat(width)))];
  for (const row of cells) {
    lines.push(render(row.map((cell) => cell[0])));
    lines.push(render(row.map((cell) => cell[1])));
  }
  return lines;
}

function figureCell(row: ResultRow, figure: Figure | Missing): [string, string] {
  if (figure.status !== 'ok') return figure.status === 'n/a' ? ['n/a', ''] : ['FAILED', '(see below)'];
  const unit = TIME_UNIT[row.workload];
  const rate = row.updatesPerOp === 1 ? `${rateOf(figure.opsPerSecond)} ${row.opUnit}s/s` : `${rateOf(figure.updatesPerSecond)} updates/s`;
  const spreadPercent = (100 * (figure.maxNsPerOp - figure.minNsPerOp)) / figure.medianNsPerOp;
  return [`${sig3(figure.medianNsPerOp / unit.ns)} ${unit.label}/${row.opUnit} ±${Math.round(spreadPercent)}%`, rate];
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

function formatTarget(target: TargetResult): string {
  const status = target.status === 'met' ? 'met    ' : target.status === 'not met' ? 'NOT MET' : 'n/a    ';
  const measured = target.measured === null ? 'no ecsdb figure' : `measured ${sig3(target.measured)} ${target.unit}`;
  return `  ${status}  ${target.description}: ${measured}`;
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
