/**
 * `npm run bench`: measures ecsdb against plain arrays and better-sqlite3 and prints a table
 * (or, with --json, one JSON document). See `--help`. Timing figures are reported, never asserted.
 * What it measures: W1, W2, W3 and W6 in every durability mode, the fsync floor, WAL bytes per
 * commit, W4 replay and open() from a snapshot and W5 snapshot while ticking in buffered and
 * strict mode (SPEC.md Performance); docs/performance.md explains the figures.
 */
import { parseArgs } from 'node:util';
import { MODES, QUICK_SCALE, modesNamed, type Mode } from './plan.js';
import { formatReport } from './report.js';
import { runBench } from './run.js';

const USAGE = `usage: node dist/bench/main.js [--json] [--quick | --scale <factor>] [--modes <list>]

  --json            print one JSON document instead of the table
  --quick           smoke run: sizes and run lengths scaled by ${QUICK_SCALE}
  --scale <factor>  scale sizes and run lengths by <factor> (1 = the spec's sizes)
  --modes <list>    comma-separated durability modes (default: ${MODES.map((mode) => mode.name).join(',')});
                    W1, W2, W3 and W6 run in each; W4 and W5 in buffered and strict (memory: n/a,
                    no directory); WAL bytes and encryption need buffered, the fsync floor buffered
                    or strict. Targets: W4, W5 on buffered, W6 and W1-vs-fsync on strict
  --help            print this

Figures: W1 point commit, W2 tick, W3 churn (10,000 entities created and destroyed per
transaction) and W6 (1,000 commits in flight) in every mode, against raw arrays (not W6) and
better-sqlite3; the fsync floor; WAL bytes per W1 commit; W4 replay of 1,000,000 W1 commits on
open(), W4 open() from a snapshot of 1,000,000 entities and W5 snapshot of 1,000,000 entities
while W2 ticks go on (the longest parts), each in buffered and strict mode. CPU profile of one
workload: node dist/bench/profile.js --help

ECSDB_BENCH_SCALE=<factor> sets the scale when neither --quick nor --scale is given.`;

/** A mistake on the command line: reported in one line with the usage, exit status 2. */
class UsageError extends Error {}

interface Options {
  json: boolean;
  scale: number;
  modes: readonly Mode[];
}

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean', default: false },
        quick: { type: 'boolean', default: false },
        scale: { type: 'string' },
        modes: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return 'help';
  if (values.quick && values.scale !== undefined) throw new UsageError('give --quick or --scale, not both');
  let scale = 1;
  if (values.quick) scale = QUICK_SCALE;
  else if (values.scale !== undefined) scale = parseScale(values.scale, '--scale');
  else if (env.ECSDB_BENCH_SCALE !== undefined && env.ECSDB_BENCH_SCALE !== '') scale = parseScale(env.ECSDB_BENCH_SCALE, 'ECSDB_BENCH_SCALE');
  let modes: readonly Mode[] = MODES;
  if (values.modes !== undefined) {
    try {
      modes = modesNamed(values.modes);
    } catch (error) {
      throw new UsageError(`--modes: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { json: values.json, scale, modes };
}

function parseScale(text: string, source: string): number {
  const scale = Number(text);
  if (text.trim() === '' || !Number.isFinite(scale) || scale <= 0 || scale > 10) {
    throw new UsageError(`${source} must be a number above 0 and at most 10 (e.g. 0.01), got ${JSON.stringify(text)}`);
  }
  return scale;
}

async function main(): Promise<void> {
  let options;
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // Progress goes to a terminal only, so redirected output (and --json) stays clean.
  const onProgress = process.stderr.isTTY ? (message: string) => process.stderr.write(`bench: measuring ${message}...\n`) : undefined;
  const report = await runBench({ scale: options.scale, modes: options.modes, onProgress });
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
}

await main();
