/**
 * Commands that change a directory (restore, repair, compact, snapshot), stopped before each of
 * their steps in turn, by SIGINT (they finish the step under way and exit 130) and by SIGKILL
 * (nothing runs after the signal, the LOCK file stays behind). The test hook
 * ECSDB_TEST_CLI_PAUSE_AT_STEP=k pauses the built bin before its k-th step; the test then
 * signals it. After every interruption:
 * - the directory is whole: a copy of it opens, at an LSN the command allows, holding exactly
 *   the commits up to that LSN (compared with dumps of an in-memory replay of the workload);
 *   repair, whose input does not open, has every WAL byte either in wal/ or in repair/;
 * - a rerun of the same command completes (exit 0) and leaves the same directory an
 *   uninterrupted run leaves, with every removed byte kept aside.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineComponent, open, t, type Database } from '../../src/index.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import { listAllSegments } from '../../src/wal/archive.js';

const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
const Name = defineComponent('Name', { value: t.string });
const COMPONENTS = [Position, Name];
const COMMITS = 300;
const SNAPSHOT_AFTER = [90, 180];

/** Commit `lsn` of the workload: creates, updates, names and destroys entities. */
function commit(db: Database, ids: number[], lsn: number): void {
  ids[lsn] = db.transact((tx) => {
    const e = tx.create();
    tx.add(e, Position, { x: lsn });
    tx.add(e, Name, { value: `entity of commit ${lsn}`.padEnd(lsn % 5 === 0 ? 80 : 20, '.') });
    if (lsn % 7 === 0) tx.set(ids[lsn - 3], Position, { y: lsn });
    if (lsn % 11 === 0) tx.destroy(ids[lsn - 5]);
    return e;
  }).value;
}

/** The world as text: every live entity with its components, in id order. */
function dumpOf(db: Database): string {
  return db
    .query()
    .map((e) => JSON.stringify({ e, p: db.get(e, Position), n: db.get(e, Name) }))
    .join('\n');
}

let root: string;
let template: string;
/** referenceDumps[lsn]: the world after commits 1..lsn, replayed in memory. */
const referenceDumps: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ecsdb-cli-interrupt-'));
  const reference = await open({ components: COMPONENTS, config: false, env: {}, durability: 'memory' });
  const referenceIds: number[] = [];
  referenceDumps[0] = dumpOf(reference);
  for (let lsn = 1; lsn <= COMMITS; lsn++) {
    commit(reference, referenceIds, lsn);
    referenceDumps[lsn] = dumpOf(reference);
  }
  await reference.close();

  template = join(root, 'template');
  const db = await open({
    dir: template,
    components: COMPONENTS,
    config: false,
    env: {},
    wal: { segmentSizeBytesMax: 4096 },
    snapshot: { everyCommits: 0, everyMs: 0, walBytesMax: 0 },
    archive: { compress: true, segmentCountMax: 0, sizeBytesMax: 0 },
  });
  const ids: number[] = [];
  for (let lsn = 1; lsn <= COMMITS; lsn++) {
    commit(db, ids, lsn);
    if (lsn % 10 === 0) await db.flush();
    if (SNAPSHOT_AFTER.includes(lsn)) await db.snapshot();
  }
  expect(dumpOf(db)).toBe(referenceDumps[COMMITS]);
  await db.close();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let copies = 0;
async function copyOf(source: string): Promise<string> {
  const target = join(root, `copy-${copies++}`);
  await cp(source, target, { recursive: true });
  return target;
}

/** Opens a copy of `dir` (leaving `dir` as it is) and reports its LSN and world. */
async function probe(dir: string): Promise<{ lsn: number; dump: string }> {
  const copy = await copyOf(dir);
  const db = await open({ dir: copy, components: COMPONENTS, config: false, env: {} });
  try {
    return { lsn: db.lsn, dump: dumpOf(db) };
  } finally {
    await db.close();
    await rm(copy, { recursive: true, force: true });
  }
}

function ecsdb(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
}

interface Stopped {
  /** False when the command finished before reaching the step (the step does not exist). */
  readonly paused: boolean;
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Runs the bin paused before step `step` (a number, or text of its description), then sends it `signal`. */
async function stopBeforeStep(args: string[], step: number | string, signal: 'SIGINT' | 'SIGKILL'): Promise<Stopped> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ECSDB_TEST_CLI_PAUSE_AT_STEP: String(step) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let paused = false;
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr += text;
    if (!paused && (typeof step === 'number' ? stderr.includes(`ecsdb-test: paused before step ${step}:`) : /ecsdb-test: paused before step \d+:/.test(stderr))) {
      paused = true;
      child.kill(signal);
    }
  });
  const [status, exitSignal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, sig) => resolve([code, sig])));
  return { paused, status, signal: exitSignal, stderr };
}

/** Every file under `dir` (relative path → bytes), except the LOCK file and `skip` folders. */
async function files(dir: string, skip: readonly string[] = []): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const relative = join(entry.parentPath, entry.name).slice(dir.length + 1);
    if (relative === 'LOCK' || skip.some((folder) => relative.startsWith(`${folder}/`))) continue;
    out.set(relative, await readFile(join(dir, relative)));
  }
  return out;
}

function listing(map: Map<string, Buffer>, withContent: boolean): string[] {
  return [...map].map(([name, bytes]) => (withContent ? `${name} ${bytes.toString('base64')}` : name)).sort();
}

/** Every byte of `before` that is not in `after` is in one of the files under `after`'s `side` folder. */
async function expectNothingLost(before: string, after: string, side: string): Promise<void> {
  const old = await files(before, [side]);
  const now = await files(after, [side]);
  const kept = [...(await files(after)).entries()].filter(([name]) => name.startsWith(`${side}/`)).map(([, bytes]) => bytes);
  for (const [name, bytes] of old) {
    if (name === 'MANIFEST' || name === 'ecsdb.meta') continue; // rewritten in place, atomically
    const current = now.get(name);
    if (current !== undefined && current.equals(bytes)) continue;
    // Moved aside whole, or cut: the part still in place followed by the part kept aside.
    const prefix = current ?? Buffer.alloc(0);
    const found = kept.some((k) => Buffer.concat([prefix, k]).equals(bytes)) || (current !== undefined && bytes.subarray(0, current.length).equals(current) && kept.some((k) => k.equals(bytes.subarray(current.length))));
    expect(found, `${name}: its bytes are in place or in ${side}/`).toBe(true);
  }
}

/**
 * SIGINT before every step; SIGKILL before every other one (every one with
 * ECSDB_TEST_CLI_KILL_EVERY_STEP=1): at a step boundary both leave the same files, SIGKILL also a
 * LOCK file and, for snapshot and compact, a database that was never closed.
 */
function signalsAt(step: number): ('SIGINT' | 'SIGKILL')[] {
  return step % 2 === 1 || process.env.ECSDB_TEST_CLI_KILL_EVERY_STEP === '1' ? ['SIGINT', 'SIGKILL'] : ['SIGINT'];
}

interface Scenario {
  readonly name: string;
  /** The command's arguments (after `--dir <dir>`). */
  readonly args: readonly string[];
  /** The directory the command runs on (a fresh copy each time). */
  prepare(): Promise<string>;
  /** What an interrupted directory must satisfy. */
  checkInterrupted(dir: string, input: string): Promise<void>;
  /** Folders whose file names differ between runs (e.g. restore/<time>/). */
  readonly sideFolder?: string;
  /** Compare file contents with an uninterrupted run (false where files carry creation times). */
  readonly sameContent: boolean;
}

/** Runs every interruption of the scenario; returns the state an uninterrupted run leaves. */
async function runScenario(scenario: Scenario): Promise<{ lsn: number; dump: string }> {
  // The uninterrupted run, for comparison.
  const clean = await scenario.prepare();
  const input = await copyOf(clean);
  const cleanRun = ecsdb(...scenario.args, '--dir', clean);
  expect(cleanRun.status, cleanRun.stderr).toBe(0);
  const cleanFiles = await files(clean, scenario.sideFolder === undefined ? [] : [scenario.sideFolder]);
  const cleanState = await probe(clean);

  let steps = 0;
  for (let step = 1; ; step++) {
    for (const signal of signalsAt(step)) {
      const dir = await scenario.prepare();
      const stopped = await stopBeforeStep([...scenario.args, '--dir', dir], step, signal);
      if (!stopped.paused) {
        expect(stopped.status, stopped.stderr).toBe(0); // fewer steps than `step`: it just ran
        expect(steps, `${scenario.name} has steps`).toBeGreaterThan(0);
        return cleanState;
      }
      steps = step;
      const what = `${scenario.name}, ${signal} before step ${step}`;
      if (signal === 'SIGINT') {
        expect(stopped.status, `${what}: ${stopped.stderr}`).toBe(130);
        expect(stopped.stderr).toContain(`stopped by SIGINT before step ${step}`);
        expect(stopped.stderr).toContain('run the same command again to finish');
        // It finished the step under way and let go of the directory.
        expect((await readdir(dir)).includes('LOCK'), what).toBe(false);
      } else {
        expect(stopped.signal, what).toBe('SIGKILL');
      }
      await scenario.checkInterrupted(dir, input);

      const rerun = ecsdb(...scenario.args, '--dir', dir);
      expect(rerun.status, `${what}, rerun: ${rerun.stderr}`).toBe(0);
      const rerunFiles = await files(dir, scenario.sideFolder === undefined ? [] : [scenario.sideFolder]);
      expect(listing(rerunFiles, scenario.sameContent), `${what}: the rerun leaves what an uninterrupted run leaves`).toEqual(listing(cleanFiles, scenario.sameContent));
      expect(await probe(dir), what).toEqual(cleanState);
      if (scenario.sideFolder !== undefined) await expectNothingLost(input, dir, scenario.sideFolder);
      await rm(dir, { recursive: true, force: true });
    }
  }
}

async function segmentsOf(dir: string) {
  return listAllSegments(new FileStorage(), join(dir, 'wal'), join(dir, 'archive'));
}

describe('a changing command stopped before any of its steps leaves a whole directory, and a rerun finishes it', () => {
  test('restore --lsn into an archived segment (its prefix rewritten as a live segment)', async () => {
    const segments = await segmentsOf(template);
    // An archived segment with records on both sides of T, that is not the first.
    const index = segments.findIndex((s, i) => i > 0 && s.archived && i + 1 < segments.length && segments[i + 1].firstLsn - s.firstLsn > 4);
    expect(index, 'the template has archived segments').toBeGreaterThan(0);
    const target = segments[index].firstLsn + 2;
    const restored = await runScenario({
      name: `restore --lsn ${target}`,
      args: ['restore', '--lsn', String(target)],
      prepare: () => copyOf(template),
      sideFolder: 'restore',
      sameContent: true,
      async checkInterrupted(dir) {
        const { lsn, dump } = await probe(dir);
        expect(lsn).toBeGreaterThanOrEqual(target);
        expect(lsn).toBeLessThanOrEqual(COMMITS);
        expect(dump).toBe(referenceDumps[lsn]);
      },
    });
    expect(restored).toEqual({ lsn: target, dump: referenceDumps[target] });
  });

  test('restore --from the older snapshot', async () => {
    const manifest = JSON.parse(ecsdb('validate', '--dir', template, '--json').stdout) as { ok: boolean };
    expect(manifest.ok).toBe(true);
    const snapshots = (await readdir(join(template, 'snapshots'))).filter((n) => n.endsWith('.snap')).sort();
    expect(snapshots.length).toBe(2);
    const restored = await runScenario({
      name: `restore --from ${snapshots[0]}`,
      args: ['restore', '--from', snapshots[0]],
      prepare: () => copyOf(template),
      sideFolder: 'restore',
      sameContent: true,
      async checkInterrupted(dir) {
        const { lsn, dump } = await probe(dir);
        expect(lsn).toBeGreaterThanOrEqual(SNAPSHOT_AFTER[0]);
        expect(dump).toBe(referenceDumps[lsn]);
      },
    });
    expect(restored).toEqual({ lsn: SNAPSHOT_AFTER[0], dump: referenceDumps[SNAPSHOT_AFTER[0]] });
  });

  test('repair of a damaged live segment with later segments', async () => {
    const segments = (await segmentsOf(template)).filter((s) => !s.archived);
    // A live segment wholly after the newest snapshot, with a later one.
    const damagedIndex = segments.findIndex((s, i) => s.firstLsn > SNAPSHOT_AFTER[1] + 1 && i + 1 < segments.length);
    expect(damagedIndex, 'the template has two live segments after its newest snapshot').toBeGreaterThanOrEqual(0);
    const damaged = join('wal', segments[damagedIndex].name);
    const repaired = await runScenario({
      name: 'repair',
      args: ['repair'],
      async prepare() {
        const dir = await copyOf(template);
        const path = join(dir, damaged);
        const bytes = await readFile(path);
        bytes[Math.floor(bytes.length / 2)] ^= 0xff;
        await writeFile(path, bytes);
        return dir;
      },
      sameContent: true,
      async checkInterrupted(dir, input) {
        // Every WAL byte of the damaged input is in wal/ or repair/; the rerun then cuts.
        const before = await files(join(input, 'wal'));
        const walNow = await files(join(dir, 'wal'));
        const repairDir = join(dir, 'repair');
        const aside = (await stat(repairDir).catch(() => undefined)) === undefined ? new Map<string, Buffer>() : await files(repairDir);
        for (const [name, bytes] of before) {
          const inPlace = walNow.get(name) ?? Buffer.alloc(0);
          const cut = [...aside].find(([side]) => side.startsWith(`${name}.`))?.[1];
          const whole = inPlace.equals(bytes) || (cut !== undefined && Buffer.concat([inPlace, cut]).equals(bytes));
          expect(whole, `wal/${name}`).toBe(true);
        }
      },
    });
    expect(repaired.lsn).toBeGreaterThan(SNAPSHOT_AFTER[1]);
    expect(repaired.lsn).toBeLessThan(COMMITS);
    expect(repaired.dump).toBe(referenceDumps[repaired.lsn]);
  });

  // Both keep every commit; their files carry creation times, so only names are compared.
  test.each(['compact', 'snapshot'])('%s', async (command) => {
    const state = await runScenario({
      name: command,
      args: [command],
      prepare: () => copyOf(template),
      sameContent: false,
      async checkInterrupted(dir) {
        expect(await probe(dir)).toEqual({ lsn: COMMITS, dump: referenceDumps[COMMITS] });
      },
    });
    expect(state).toEqual({ lsn: COMMITS, dump: referenceDumps[COMMITS] });
  });
});

describe('restore, rerun after a stop (regressions)', () => {
  test('a rerun after a stop between rewriting an archived segment as a live one and moving its original aside moves the original aside', async () => {
    const segments = await segmentsOf(template);
    const index = segments.findIndex((s, i) => i > 0 && s.archived && i + 1 < segments.length && segments[i + 1].firstLsn - s.firstLsn > 4);
    const held = segments[index];
    const target = held.firstLsn + 2;
    const archivedName = held.path.slice(held.path.lastIndexOf('/') + 1);
    const dir = await copyOf(template);
    const stopped = await stopBeforeStep(['restore', '--lsn', String(target), '--dir', dir], `move archive/${archivedName}`, 'SIGINT');
    expect(stopped.status, stopped.stderr).toBe(130);
    // Stopped with both copies: the live prefix (which recovery reads) and the archived original.
    expect((await readdir(join(dir, 'wal'))).includes(held.name)).toBe(true);
    expect((await readdir(join(dir, 'archive'))).includes(archivedName)).toBe(true);
    expect((await probe(dir)).lsn).toBe(target);

    const rerun = ecsdb('restore', '--lsn', String(target), '--dir', dir, '--json');
    expect(rerun.status, rerun.stderr).toBe(0);
    // The original holds records past the target: left in archive/, it would be a second copy of
    // those LSNs next to the ones the restored database writes from target + 1 on.
    expect((await readdir(join(dir, 'archive'))).filter((name) => name.startsWith(held.name))).toEqual([]);
    expect(JSON.parse(rerun.stdout).movedAside).toContain(`archive/${archivedName}`);
    expect(await probe(dir)).toEqual({ lsn: target, dump: referenceDumps[target] });
  });

  test('a rerun after a stop right after the MANIFEST was replaced moves aside the snapshot files newer than the target', async () => {
    const snapshots = (await readdir(join(template, 'snapshots'))).filter((n) => n.endsWith('.snap')).sort();
    const dir = await copyOf(template);
    const stopped = await stopBeforeStep(['restore', '--from', snapshots[0], '--dir', dir], 'move ', 'SIGINT');
    expect(stopped.status, stopped.stderr).toBe(130);
    expect(stopped.stderr).toContain('stopped by SIGINT before step 2');
    // The MANIFEST no longer names the newer snapshot; its file is still there.
    expect(await readdir(join(dir, 'snapshots'))).toContain(snapshots[1]);

    const rerun = ecsdb('restore', '--from', snapshots[0], '--dir', dir);
    expect(rerun.status, rerun.stderr).toBe(0);
    expect((await readdir(join(dir, 'snapshots'))).filter((n) => n.endsWith('.snap'))).toEqual([snapshots[0]]);
    expect(await probe(dir)).toEqual({ lsn: SNAPSHOT_AFTER[0], dump: referenceDumps[SNAPSHOT_AFTER[0]] });
  });
});
