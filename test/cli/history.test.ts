/**
 * `ecsdb dump --lsn/--time` and `ecsdb diff`, in process (runCli) and as the built bin, on a real
 * directory with snapshots and archived WAL: against the in-memory model of the same workload,
 * against `restore --lsn`, next to an open database, and their usage errors.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { open, type Database } from '../../src/index.js';
import { runCli } from '../../src/cli/run.js';
import { plain } from '../../src/cli/common.js';
import { HERMETIC, MANUAL_SNAPSHOTS } from '../helpers/snapshot-dir.js';
import { WORKLOAD_COMPONENTS, workloadStep } from '../helpers/workload.js';

const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const SEED = 5150;
const COMMITS = 120;

async function inProcess(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const status = await runCli(args, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  return { status, stdout, stderr };
}

/** The in-memory model after `lsn` commits of the workload (each step's LSN is its own). */
async function modelAt(lsn: number): Promise<Database> {
  const db = await open({ ...HERMETIC, components: WORKLOAD_COMPONENTS, durability: 'memory' });
  for (let index = 0; db.lsn < lsn; index++) db.transact((tx) => workloadStep(tx, SEED, index));
  return db;
}

/** dump's JSON lines, written here from the public reads. */
function expectedDump(db: Database): string {
  const lines = db.query().map((entity) => {
    const line: Record<string, unknown> = { entity };
    for (const component of WORKLOAD_COMPONENTS) {
      const value = db.get(entity, component);
      if (value !== undefined) line[component.name] = plain(value);
    }
    return JSON.stringify(line);
  });
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** What diff must report between two models, written here from the public reads. */
function expectedDiff(a: Database, b: Database) {
  const values = (db: Database, entity: number) =>
    Object.fromEntries(WORKLOAD_COMPONENTS.filter((c) => db.has(entity, c)).map((c) => [c.name, plain(db.get(entity, c))]));
  const before = new Set(a.query());
  const after = new Set(b.query());
  const changed = [];
  for (const entity of a.query().filter((e) => after.has(e))) {
    const x = values(a, entity);
    const y = values(b, entity);
    const change = { entity, added: {} as Record<string, unknown>, removed: {} as Record<string, unknown>, changed: {} as Record<string, unknown> };
    for (const name of new Set([...Object.keys(x), ...Object.keys(y)])) {
      if (!(name in x)) change.added[name] = y[name];
      else if (!(name in y)) change.removed[name] = x[name];
      else {
        const old = x[name] as Record<string, unknown>;
        const now = y[name] as Record<string, unknown>;
        const fields = Object.keys(old).filter((f) => JSON.stringify(old[f]) !== JSON.stringify(now[f]));
        if (fields.length > 0) change.changed[name] = { fields, before: old, after: now };
      }
    }
    if (Object.keys(change.added).length + Object.keys(change.removed).length + Object.keys(change.changed).length > 0) changed.push(change);
  }
  return {
    added: b.query().filter((e) => !before.has(e)).map((entity) => ({ entity, components: values(b, entity) })),
    removed: a.query().filter((e) => !after.has(e)).map((entity) => ({ entity, components: values(a, entity) })),
    changed,
  };
}

let dir: string;
let lastLsn: number;
beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'ecsdb-cli-history-')), 'db');
  const db = await open({
    ...HERMETIC,
    dir,
    components: WORKLOAD_COMPONENTS,
    wal: { segmentSizeBytesMax: 4096 },
    snapshot: { ...MANUAL_SNAPSHOTS, keep: 3 },
    archive: { segmentCountMax: 0, compress: true },
  });
  for (let index = 0; index < COMMITS; index++) {
    db.transact((tx) => workloadStep(tx, SEED, index));
    if (index % 10 === 9) await db.flush();
    if (index % 40 === 39) await db.snapshot();
  }
  lastLsn = db.lsn;
  await db.close();
});
afterEach(async () => {
  await rm(join(dir, '..'), { recursive: true, force: true });
});

describe('ecsdb dump --lsn / --time', () => {
  test('prints the world of every sampled LSN exactly as the model has it', async () => {
    for (const lsn of [0, 1, 17, 40, 41, 77, 99, lastLsn]) {
      const model = await modelAt(lsn);
      const result = await inProcess('dump', '--dir', dir, '--lsn', String(lsn));
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout, `dump at LSN ${lsn}`).toBe(expectedDump(model));
      await model.close();
    }
  });

  test('--time picks the last commit at or before the time; a time before the log is the empty world', async () => {
    const now = await inProcess('dump', '--dir', dir, '--time', new Date(Date.now() + 60_000).toISOString());
    expect(now.stdout).toBe((await inProcess('dump', '--dir', dir, '--lsn', String(lastLsn))).stdout);
    const before = await inProcess('dump', '--dir', dir, '--time', '1000');
    expect([before.status, before.stdout]).toEqual([0, '']);
  });

  test('reads next to an open database, where plain dump is refused with DB_LOCKED', async () => {
    const db = await open({ ...HERMETIC, dir, components: WORKLOAD_COMPONENTS });
    try {
      const locked = await inProcess('dump', '--dir', dir);
      expect(locked.status).toBe(1);
      expect(locked.stderr).toContain('DB_LOCKED');
      const past = await inProcess('dump', '--dir', dir, '--lsn', '50', '--component', 'Position');
      expect(past.status, past.stderr).toBe(0);
      const model = await modelAt(50);
      const expected = model.query(WORKLOAD_COMPONENTS[0]).map((entity) => JSON.stringify({ entity, Position: model.get(entity, WORKLOAD_COMPONENTS[0]) }));
      expect(past.stdout).toBe(`${expected.join('\n')}\n`);
      await model.close();
    } finally {
      await db.close();
    }
  });

  test('agrees with restore --lsn: the restored directory dumps, and hashes, the same', async () => {
    const lsn = 63;
    const view = await inProcess('dump', '--dir', dir, '--lsn', String(lsn));
    const restored = spawnSync(process.execPath, [BIN, 'restore', '--dir', dir, '--lsn', String(lsn)], { encoding: 'utf8' });
    expect(restored.status, restored.stderr).toBe(0);
    expect((await inProcess('dump', '--dir', dir)).stdout).toBe(view.stdout);
    const db = await open({ ...HERMETIC, dir, components: WORKLOAD_COMPONENTS });
    const model = await modelAt(lsn);
    expect([db.lsn, db.stateHash()]).toEqual([lsn, model.stateHash()]);
    await db.close();
    await model.close();
  });

  test('an LSN outside retention or after the end fails with OUT_OF_RETENTION; a malformed one is usage', async () => {
    const after = await inProcess('dump', '--dir', dir, '--lsn', String(lastLsn + 1));
    expect(after.status).toBe(1);
    expect(after.stderr).toMatch(/^ecsdb: OUT_OF_RETENTION: LSN \d+ is after the end of the log/);
    for (const args of [
      ['dump', '--lsn', 'x'],
      ['dump', '--time', 'yesterday'],
      ['dump', '--lsn', '1', '--time', '5'],
      ['inspect', '--lsn', '3'],
      ['restore', '--time', '3'],
      ['dump', '--from-lsn', '3'],
    ]) {
      const result = await inProcess(...args, '--dir', dir);
      expect(result.status, args.join(' ')).toBe(2);
    }
  });
});

describe('ecsdb diff', () => {
  test('--json lists exactly the entities and components added, removed and changed, as the model does', async () => {
    for (const [from, to] of [
      [0, 10],
      [10, 50],
      [37, 38],
      [41, lastLsn],
      [90, 60],
    ]) {
      const result = await inProcess('diff', '--dir', dir, '--from-lsn', String(from), '--to-lsn', String(to), '--json');
      expect(result.status, result.stderr).toBe(0);
      const reported = JSON.parse(result.stdout);
      const a = await modelAt(from);
      const b = await modelAt(to);
      const expected = expectedDiff(a, b);
      expect({ added: reported.added, removed: reported.removed, changed: reported.changed }, `diff ${from} -> ${to}`).toEqual(expected);
      expect([reported.fromLsn, reported.toLsn]).toEqual([from, to]);
      await a.close();
      await b.close();
    }
  });

  test('text output: a summary line, then + - ~ lines; --component narrows it; the same LSN twice is empty', async () => {
    const text = await inProcess('diff', '--dir', dir, '--from-lsn', '20', '--to-lsn', '30');
    expect(text.status, text.stderr).toBe(0);
    const [summary, ...lines] = text.stdout.trimEnd().split('\n');
    expect(summary).toMatch(/^diff LSN 20 \(\d{4}-.*Z\) -> LSN 30 \(.*\): \d+ entities added, \d+ removed, \d+ changed$/);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^[+~-] \d+ /);
    const narrowed = JSON.parse((await inProcess('diff', '--dir', dir, '--from-lsn', '20', '--to-lsn', '30', '--component', 'Health', '--json')).stdout);
    for (const change of narrowed.changed) expect(Object.keys({ ...change.added, ...change.removed, ...change.changed })).toEqual(['Health']);
    const same = JSON.parse((await inProcess('diff', '--dir', dir, '--from-lsn', '30', '--to-lsn', '30', '--json')).stdout);
    expect([same.added, same.removed, same.changed]).toEqual([[], [], []]);
  });

  test('the built bin runs it, and usage errors exit 2', () => {
    const bin = spawnSync(process.execPath, [BIN, 'diff', '--dir', dir, '--from-lsn', '1', '--to-lsn', '2'], { encoding: 'utf8' });
    expect(bin.status, bin.stderr).toBe(0);
    expect(bin.stdout).toMatch(/^diff LSN 1/);
    const missing = spawnSync(process.execPath, [BIN, 'diff', '--dir', dir, '--from-lsn', '1'], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--to-lsn or --to-time');
  });
});
