/**
 * `node dist/bench/profile.js <W1|W2|W2C|W3|W4|W4S|W5|W6>`: a CPU profile of one ecsdb workload, to find what
 * limits a figure. It sets the workload up exactly as `npm run bench` does, warms it up, then
 * profiles only the measured part (V8's sampling profiler through node:inspector, the same one
 * `node --cpu-prof` uses, so setup does not dilute the shares), writes the .cpuprofile (open it in
 * Chrome DevTools) and prints the functions with the most self time.
 *
 * W1, W2, W3 and W6 loop the workload for --seconds; W4 (replay) and W4S (open() from a snapshot)
 * build their directory unprofiled, then profile --opens opens of it; W5 builds its world and
 * takes one snapshot while ticking unprofiled, then profiles --snapshots more.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session, type Profiler } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { openEcsdb } from './ecsdb.js';
import { buildReplayDirectory, openReplayDirectory } from './ecsdb-wal.js';
import { GcWatch, buildSnapshotDirectory, openSnapshotDirectory, openTickingWorld, snapshotWhileTicking } from './ecsdb-snapshot.js';
import { MODES, planFor, type Mode, type Plan } from './plan.js';
import type { Runner } from './stats.js';

const USAGE = `usage: node dist/bench/profile.js <W1|W2|W2C|W3|W4|W4S|W5|W6> [--mode memory|buffered|strict] [--seconds 5] [--scale 1]
       [--opens 5] [--snapshots 3] [--out profile.cpuprofile] [--top 20] [--interval-us 1000]
       node dist/bench/profile.js --summarize <file.cpuprofile> [--top 20]

  --mode picks the durability (default buffered; W6: strict). W2C is W2 through tx.setColumns; W4 profiles open() with
  WAL replay, W4S open() from a snapshot; W5 profiles snapshots taken while W2 ticks go on (these three: buffered or strict).
  --summarize prints the top functions of an existing profile (e.g. one from node --cpu-prof).`;

const PROFILED = ['W1', 'W2', 'W2C', 'W3', 'W4', 'W4S', 'W5', 'W6'] as const;
type Workload = (typeof PROFILED)[number];

interface Options {
  summarize: string | undefined;
  workload: Workload;
  mode: Mode;
  seconds: number;
  scale: number;
  opens: number;
  snapshots: number;
  out: string;
  top: number;
  intervalUs: number;
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      mode: { type: 'string' },
      seconds: { type: 'string', default: '5' },
      scale: { type: 'string', default: '1' },
      opens: { type: 'string', default: '5' },
      snapshots: { type: 'string', default: '3' },
      out: { type: 'string' },
      top: { type: 'string', default: '20' },
      'interval-us': { type: 'string', default: '1000' },
      summarize: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return 'help';
  const workload = values.summarize === undefined ? positionals[0] : 'W1';
  if (values.summarize !== undefined && positionals.length > 0) throw new Error('--summarize takes no workload');
  if (values.summarize === undefined && (positionals.length !== 1 || !(PROFILED as readonly string[]).includes(workload))) {
    throw new Error(`give one workload: ${PROFILED.join(', ')}`);
  }
  const modeName = values.mode ?? (workload === 'W6' ? 'strict' : 'buffered');
  const mode = MODES.find((candidate) => candidate.name === modeName);
  if (mode === undefined) throw new Error(`unknown mode ${JSON.stringify(modeName)}`);
  if (!mode.needsDir && ['W4', 'W4S', 'W5'].includes(workload)) throw new Error(`${workload} needs a directory: --mode buffered or strict`);
  const number = (name: string, text: string): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(text)}`);
    return value;
  };
  return {
    summarize: values.summarize,
    workload: workload as Options['workload'],
    mode,
    seconds: number('seconds', values.seconds),
    scale: number('scale', values.scale),
    opens: Math.round(number('opens', values.opens)),
    snapshots: Math.round(number('snapshots', values.snapshots)),
    out: values.out ?? `${workload}-${mode.name}.cpuprofile`,
    top: Math.round(number('top', values.top)),
    intervalUs: Math.round(number('interval-us', values['interval-us'])),
  };
}

async function profiled(intervalUs: number, body: () => Promise<void>): Promise<Profiler.Profile> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
    await session.post('Profiler.start');
    await body();
    const { profile } = await session.post('Profiler.stop');
    return profile;
  } finally {
    session.disconnect();
  }
}

/** Runs `runner` in batches until `seconds` pass; returns operations done. */
async function loopFor(runner: Runner, seconds: number): Promise<number> {
  const endNs = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  let ops = 0;
  let batch = 1;
  while (process.hrtime.bigint() < endNs) {
    const startNs = process.hrtime.bigint();
    await runner.run(batch);
    ops += batch;
    // Batches of about 50 ms: long enough to be cheap to drive, short enough to stop on time.
    if (Number(process.hrtime.bigint() - startNs) < 50e6) batch *= 2;
  }
  return ops;
}

async function profileWorkload(options: Options, plan: Plan): Promise<Profiler.Profile> {
  if (options.workload === 'W4') {
    process.stderr.write(`profile: building a directory of ${plan.replay.commitCount.toLocaleString('en-US')} W1 commits (not profiled)\n`);
    const built = await buildReplayDirectory(plan, options.mode);
    try {
      await openReplayDirectory(plan, built); // warm-up: JIT and page cache
      return await profiled(options.intervalUs, async () => {
        for (let i = 0; i < options.opens; i++) {
          const { openMs, recordsReplayed } = await openReplayDirectory(plan, built);
          process.stderr.write(`profile: open ${i + 1}: ${recordsReplayed.toLocaleString('en-US')} records in ${openMs.toFixed(0)} ms\n`);
        }
      });
    } finally {
      built.remove();
    }
  }
  if (options.workload === 'W4S') {
    process.stderr.write(`profile: building a snapshot of ${plan.snapshot.entityCount.toLocaleString('en-US')} entities (not profiled)\n`);
    const built = await buildSnapshotDirectory(plan, options.mode);
    try {
      await openSnapshotDirectory(plan, built); // warm-up: JIT and page cache
      return await profiled(options.intervalUs, async () => {
        for (let i = 0; i < options.opens; i++) {
          const { openMs, loadMs } = await openSnapshotDirectory(plan, built);
          process.stderr.write(`profile: open ${i + 1}: ${openMs.toFixed(0)} ms, snapshot load ${loadMs} ms\n`);
        }
      });
    } finally {
      built.remove();
    }
  }
  if (options.workload === 'W5') {
    process.stderr.write(`profile: building a world of ${plan.snapshot.entityCount.toLocaleString('en-US')} entities (not profiled)\n`);
    const world = await openTickingWorld(plan, options.mode);
    const gcWatch = new GcWatch();
    try {
      await snapshotWhileTicking(world.db, world.tick, gcWatch); // warm-up
      return await profiled(options.intervalUs, async () => {
        for (let i = 0; i < options.snapshots; i++) {
          const run = await snapshotWhileTicking(world.db, world.tick, gcWatch);
          process.stderr.write(
            `profile: snapshot ${i + 1}: durable in ${run.durableMs.toFixed(0)} ms, ${run.ticks} ticks, ` +
              `longest pause ${run.pauseMaxMs.toFixed(1)} ms, longestStepMs ${run.longestStepMs}\n`,
          );
        }
      });
    } finally {
      gcWatch.stop();
      await world.close();
    }
  }
  const opened = await openEcsdb(plan, options.mode);
  if (opened.status !== 'ok') throw new Error(`ecsdb ${options.mode.name} is not available: ${opened.reason}`);
  const engine = opened.engine;
  try {
    const runner = engine.runner(options.workload);
    await loopFor(runner, Math.min(1, options.seconds / 5)); // warm-up
    let ops = 0;
    const profile = await profiled(options.intervalUs, async () => {
      ops = await loopFor(runner, options.seconds);
    });
    runner.verify();
    process.stderr.write(`profile: ${ops.toLocaleString('en-US')} operations in ${options.seconds} s\n`);
    return profile;
  } finally {
    await engine.close();
  }
}

interface FunctionTime {
  name: string;
  where: string;
  selfUs: number;
  totalUs: number;
}

/** Self and total (inclusive) time per function, from the profile's samples. */
function functionTimes(profile: Profiler.Profile, root: string): { functions: FunctionTime[]; sampledUs: number } {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const keyOf = (node: Profiler.ProfileNode): string => {
    const { functionName, url, lineNumber } = node.callFrame;
    return `${functionName || '(anonymous)'}\u0000${url.replace(`file://${root}/`, '')}:${lineNumber + 1}`;
  };
  const times = new Map<string, FunctionTime>();
  const timeOf = (key: string): FunctionTime => {
    let time = times.get(key);
    if (time === undefined) {
      const [name, where] = key.split('\u0000');
      time = { name, where: where === ':0' ? '' : where, selfUs: 0, totalUs: 0 };
      times.set(key, time);
    }
    return time;
  };
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let sampledUs = 0;
  for (let i = 0; i < samples.length; i++) {
    // A sample's time is the gap to the next one (V8's timeDeltas are to the previous sample).
    const us = deltas[i + 1] ?? 0;
    sampledUs += us;
    let node = nodes.get(samples[i]);
    if (node === undefined) continue;
    timeOf(keyOf(node)).selfUs += us;
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      node = nodes.get(id)!;
      const key = keyOf(node);
      if (seen.has(key)) continue; // recursion: count a function once per sample
      seen.add(key);
      timeOf(key).totalUs += us;
    }
  }
  return { functions: [...times.values()].filter((time) => time.name !== '(root)'), sampledUs };
}

async function main(): Promise<void> {
  let options: Options | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`profile: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let profile: Profiler.Profile;
  let title: string;
  if (options.summarize !== undefined) {
    profile = JSON.parse(readFileSync(options.summarize, 'utf8')) as Profiler.Profile;
    title = options.summarize;
  } else {
    const plan = planFor(options.scale, [options.mode]);
    profile = await profileWorkload(options, { ...plan, replay: { ...plan.replay, opens: options.opens } });
    writeFileSync(options.out, JSON.stringify(profile));
    title = `${options.workload} ${options.mode.name} (profile in ${options.out})`;
  }
  const root = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
  const { functions, sampledUs } = functionTimes(profile, root);
  const share = (us: number): string => `${((100 * us) / sampledUs).toFixed(1).padStart(5)}%`;
  const lines = [
    `${title}: ${(sampledUs / 1e6).toFixed(2)} s sampled`,
    ' self   total  function (file:line in dist/)',
    ...functions
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, options.top)
      .map((time) => `${share(time.selfUs)} ${share(time.totalUs)}  ${time.name}${time.where === '' ? '' : ` (${time.where})`}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
