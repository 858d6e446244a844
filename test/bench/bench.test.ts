/**
 * The bench reports every figure it promises. These tests run it at a tiny size and check that
 * each figure is there and is a positive finite number; they never check that anything is fast
 * (timing belongs to `npm run bench`, not to the test suite).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MODES, planFor } from '../../bench/plan.js';
import { formatReport } from '../../bench/report.js';
import { runBench, type BenchReport, type Figure, type ResultRow } from '../../bench/run.js';
import { evaluateTargets } from '../../bench/targets.js';
import { WORKLOADS } from '../../bench/workloads.js';

/** 100 entities, ticks of 10: enough to run every code path in about a second. */
const TINY_SCALE = 0.001;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPILED_MAIN = fileURLToPath(new URL('../../dist/bench/main.js', import.meta.url));

function expectPositiveFinite(value: unknown, where: string): void {
  expect(typeof value === 'number' && Number.isFinite(value) && value > 0, `${where} is ${String(value)}`).toBe(true);
}

function expectFigure(figure: Figure, where: string): void {
  expect(figure.status, where).toBe('ok');
  for (const key of ['medianNsPerOp', 'minNsPerOp', 'maxNsPerOp', 'opsPerSecond', 'updatesPerSecond', 'opsPerRun'] as const) {
    expectPositiveFinite(figure[key], `${where}.${key}`);
  }
  expect(figure.samplesNsPerOp, `${where}.samplesNsPerOp`).toHaveLength(figure.runs);
  figure.samplesNsPerOp.forEach((sample, i) => expectPositiveFinite(sample, `${where}.samplesNsPerOp[${i}]`));
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
  expect(row.ecsdb.status, `${where} ecsdb: ${'reason' in row.ecsdb ? row.ecsdb.reason : ''}`).toBe('ok');
  expectFigure(row.ecsdb as Figure, `${where} ecsdb`);
  expectPositiveFinite(row.ecsdbSpeedupOverSqlite, `${where} ecsdbSpeedupOverSqlite`);
  expectPositiveFinite(row.ecsdbOverRaw, `${where} ecsdbOverRaw`);
}

function expectCompleteReport(report: BenchReport): void {
  expect(report.machine.cpuModel).not.toBe('');
  expectPositiveFinite(report.machine.cores, 'machine.cores');
  expectPositiveFinite(report.durationMs, 'durationMs');
  expect(report.results.map((row) => `${row.workload} ${row.mode}`)).toEqual(
    WORKLOADS.flatMap((workload) => MODES.map((mode) => `${workload.id} ${mode.name}`)),
  );
  report.results.forEach(expectRow);
  expect(report.targets.length).toBeGreaterThan(0);
  for (const target of report.targets) {
    expect(target.status, target.id).not.toBe('n/a'); // both issue-2 targets are memory mode
    expectPositiveFinite(target.measured, `target ${target.id}`);
  }
}

describe('runBench()', () => {
  it('reports every figure of every workload and mode as a positive finite number', async () => {
    const report = await runBench({ scale: TINY_SCALE });
    expect(report.plan.entityCount).toBe(100);
    expectCompleteReport(report);
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

  function row(workload: 'W1' | 'W2', mode: ResultRow['mode'], ecsdb: ResultRow['ecsdb'], ecsdbNs: number, sqliteNs: number): ResultRow {
    return {
      workload,
      title: workload,
      opUnit: workload === 'W1' ? 'commit' : 'tick',
      updatesPerOp: workload === 'W1' ? 1 : 10,
      mode,
      ecsdb,
      raw: figure(1, 1),
      sqlite: { ...figure(sqliteNs, 1), synchronous: 'OFF' },
      ecsdbSpeedupOverSqlite: ecsdb.status === 'ok' ? sqliteNs / ecsdbNs : null,
      ecsdbOverRaw: ecsdb.status === 'ok' ? ecsdbNs : null,
    };
  }

  it('judges a target met or not met from the figure, and n/a when the mode is not available', () => {
    const met = evaluateTargets([row('W1', 'memory', figure(800, 1), 800, 9_000), row('W2', 'memory', figure(500, 10), 500, 1_000)]);
    expect(met.map((target) => target.status)).toEqual(['met', 'not met']);
    const notAvailable = evaluateTargets([row('W1', 'memory', { status: 'n/a', reason: 'not built' }, 0, 9_000)]);
    expect(notAvailable.map((target) => target.status)).toEqual(['n/a', 'n/a']);
    const failed = evaluateTargets([row('W1', 'memory', { status: 'failed', reason: 'hung' }, 0, 9_000)]);
    expect(failed[0].status).toBe('not met');
  });

  it('prints n/a and FAILED figures with their reasons instead of numbers', () => {
    const results = [
      row('W1', 'memory', figure(800, 1), 800, 9_000),
      row('W1', 'buffered', { status: 'n/a', reason: 'needs the WAL' }, 0, 9_000),
      row('W1', 'strict', { status: 'failed', reason: 'durable never resolved' }, 0, 9_000),
    ];
    const text = formatReport({
      startedAt: new Date(0).toISOString(),
      durationMs: 1,
      machine: {
        cpuModel: 'Test CPU',
        cores: 2,
        node: 'v20.0.0',
        platform: 'linux',
        arch: 'x64',
        memoryBytes: 1,
        loadAverage1mAtStart: 0,
        tempDir: '/tmp',
        betterSqlite3: '12.0.0',
        sqlite: '3.0.0',
      },
      plan,
      results,
      targets: evaluateTargets(results),
    });
    expect(text).toMatch(/Test CPU, 2 cores, node v20\.0\.0/);
    expect(text).toMatch(/0\.8 µs\/commit/);
    expect(text).toMatch(/11\.3x faster/);
    expect(text).toMatch(/n\/a: ecsdb buffered: needs the WAL/);
    expect(text).toMatch(/FAILED: ecsdb strict W1: durable never resolved/);
    expect(text).toMatch(/met +W1 memory: <= 1 µs per commit: measured 0\.8 µs per commit/);
  });
});
