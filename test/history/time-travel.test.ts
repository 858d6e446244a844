/**
 * Time travel: openAt() and db.at() give, at every retained LSN, exactly the world the in-memory
 * model had after that commit (dump and state hash), from any base (no snapshot, full and
 * incremental snapshots, fuzzy ones, compressed archive), on both storages, while a writer keeps
 * the directory open, and without changing a byte of the directory.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { open, openAt, type Database } from '../../src/index.js';
import { BOTH_STORAGES, SMALL_WAL, flipByte, readTree, type DirFixture } from '../helpers/db-dir.js';
import { HERMETIC, MANUAL_SNAPSHOTS, bulkThenWorkload, expectTyped, rejectionOf, type WorkloadStep } from '../helpers/snapshot-dir.js';
import { WORKLOAD_COMPONENTS, dumpDatabase } from '../helpers/workload.js';
import { Position } from '../helpers/fixtures.js';

const SEED = 808;
const COMMITS = 150;
/** A bulk of 700 entities first, so that a snapshot spans several chunks and can be fuzzy. */
const STEP = bulkThenWorkload(SEED, 700);

/** The model: dump and state hash after each LSN (index = LSN). */
async function modelStates(step: WorkloadStep, count: number): Promise<{ dumps: unknown[][]; hashes: string[] }> {
  const db = await open({ ...HERMETIC, components: WORKLOAD_COMPONENTS, durability: 'memory' });
  const dumps: unknown[][] = [dumpDatabase(db)];
  const hashes: string[] = [db.stateHash()];
  for (let index = 0; index < count; index++) {
    const commit = db.transact((tx) => step(tx, index));
    dumps[commit.lsn] = dumpDatabase(db);
    hashes[commit.lsn] = db.stateHash();
  }
  await db.close();
  return { dumps, hashes };
}

function openWriter(fixture: DirFixture, archive: { compress: boolean; segmentCountMax: number } = { compress: false, segmentCountMax: 0 }): Promise<Database> {
  return open({
    ...HERMETIC,
    dir: fixture.dir,
    storage: fixture.storage,
    components: WORKLOAD_COMPONENTS,
    wal: SMALL_WAL,
    snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: 256, keep: 3, fullEvery: 2 },
    archive,
  });
}

/**
 * The workload with a snapshot every 30 commits, each taken while more commits go on, one per
 * event-loop turn until it is published or 8 were made (so its start and end LSNs differ),
 * flushed every 7 commits; small segments, so many of them are archived.
 */
async function writeHistory(db: Database, from: number, to: number): Promise<void> {
  for (let index = from; index < to; index++) {
    db.transact((tx) => STEP(tx, index));
    if (index % 7 === 6) await db.flush();
    if (index % 30 === 29) {
      let settled = false;
      const snapshot = db.snapshot().finally(() => (settled = true));
      for (let more = 0; !settled && more < 8 && index + 1 < to; more++) {
        index++;
        db.transact((tx) => STEP(tx, index));
        await new Promise((resolve) => setImmediate(resolve));
      }
      await snapshot;
    }
  }
}

const model = await modelStates(STEP, COMMITS);
const LAST_LSN = model.dumps.length - 1;

describe.each(BOTH_STORAGES)('time travel on $name', (kind) => {
  let fixture: DirFixture;
  beforeEach(async () => {
    fixture = await kind.create();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  it('shows the model at every LSN, from every kind of base, and changes nothing on disk', async () => {
    const db = await openWriter(fixture, { compress: true, segmentCountMax: 0 });
    await writeHistory(db, 0, COMMITS);
    expect(db.lsn).toBe(LAST_LSN);
    // On the simulated storage the interleaving of commits and capture is deterministic; on the
    // real one it depends on how fast the disk answers, so only the former pins the coverage.
    if (kind.name === 'SimulatedStorage') {
      expect(db.snapshots.some((s) => s.startLsn < s.endLsn), 'some snapshot was fuzzy').toBe(true);
      expect(db.snapshots.some((s) => s.base !== undefined), 'some snapshot was incremental').toBe(true);
    }
    await db.close();
    const before = await readTree(fixture.files, fixture.dir);
    const bases = new Set<string>();
    for (let lsn = 0; lsn <= LAST_LSN; lsn++) {
      const view = await openAt({ dir: fixture.dir, storage: fixture.storage, components: WORKLOAD_COMPONENTS, lsn });
      expect(view.lsn).toBe(lsn);
      expect(view.timeMs === undefined, `LSN ${lsn} has a recorded time`).toBe(lsn === 0);
      expect(dumpDatabase(view), `world at LSN ${lsn}`).toEqual(model.dumps[lsn]);
      expect(view.stateHash(), `hash at LSN ${lsn}`).toBe(model.hashes[lsn]);
      bases.add(view.source.snapshot ?? 'wal');
      view.close();
    }
    expect(bases.size, 'views were built from the WAL alone and from several snapshots').toBeGreaterThan(2);
    expect(await readTree(fixture.files, fixture.dir)).toEqual(before);
  });

  it('db.at() works while the database is open and writing, including commits not yet durable', async () => {
    const db = await openWriter(fixture);
    await writeHistory(db, 0, 100);
    for (let index = 100; index < 110; index++) db.transact((tx) => STEP(tx, index));
    const lsn = db.lsn;
    expect(db.durableLsn).toBeLessThan(lsn);
    const latest = await db.at({ lsn });
    expect(dumpDatabase(latest)).toEqual(model.dumps[lsn]);
    expect(latest.stateHash()).toBe(db.stateHash());
    for (const past of [0, 1, 31, 64, 99]) {
      const view = await db.at({ lsn: past });
      expect(view.stateHash(), `hash at LSN ${past}`).toBe(model.hashes[past]);
    }
    // A separate openAt of the locked directory is fine too: views take no lock.
    const other = await openAt({ dir: fixture.dir, storage: fixture.storage, components: WORKLOAD_COMPONENTS, lsn: 50 });
    expect(dumpDatabase(other)).toEqual(model.dumps[50]);
    await db.close();
  });

  it('needs only the log up to its LSN intact: a view before damage opens where open() refuses', async () => {
    const db = await openWriter(fixture);
    for (let index = 0; index < 80; index++) {
      db.transact((tx) => STEP(tx, index));
      if (index % 7 === 6) await db.flush();
    }
    await db.close();
    const names = (await fixture.files.list(join(fixture.dir, 'wal'))).sort();
    expect(names.length).toBeGreaterThan(2);
    const victim = names[names.length - 2];
    const path = join(fixture.dir, 'wal', victim);
    await flipByte(fixture.files, path, (await fixture.files.stat(path))!.sizeBytes - 3);
    expectTyped(await rejectionOf(openWriter(fixture)), 'CORRUPT_WAL', victim);
    const lsn = Number(victim.slice(0, 20)) - 1;
    const damagedLsn = Number(names[names.length - 1].slice(0, 20)) - 1; // the victim's last record
    const view = await openAt({ dir: fixture.dir, storage: fixture.storage, components: WORKLOAD_COMPONENTS, lsn });
    expect(dumpDatabase(view)).toEqual(model.dumps[lsn]);
    expectTyped(await rejectionOf(openAt({ dir: fixture.dir, storage: fixture.storage, components: WORKLOAD_COMPONENTS, lsn: damagedLsn })), 'CORRUPT_WAL', victim);
  });
});

describe('time travel: out of retention and bad requests', () => {
  let fixture: DirFixture;
  beforeEach(async () => {
    fixture = await BOTH_STORAGES[0].create();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  const at = (lsn: number) => openAt({ dir: fixture.dir, storage: fixture.storage, components: WORKLOAD_COMPONENTS, lsn });

  it('refuses an LSN after the last commit, naming it', async () => {
    const db = await openWriter(fixture);
    await writeHistory(db, 0, 20);
    await db.close();
    expectTyped(await rejectionOf(at(21)), 'OUT_OF_RETENTION', 'LSN 21', 'last commit is LSN 20');
    expect(dumpDatabase(await at(20))).toEqual(model.dumps[20]);
  });

  it('refuses an LSN whose WAL was pruned, and names what is retained', async () => {
    const db = await openWriter(fixture, { compress: false, segmentCountMax: 1 });
    await writeHistory(db, 0, 120);
    const reachable = db.snapshots[0].endLsn;
    await db.close();
    const oldest = Math.min(...(await fixture.files.list(join(fixture.dir, 'archive'))).map((name) => Number(name.slice(0, 20))));
    expect(oldest, 'the archive was pruned').toBeGreaterThan(1);
    expectTyped(await rejectionOf(at(1)), 'OUT_OF_RETENTION', 'LSN 1', 'no longer retained', 'archive.segmentCountMax');
    // The oldest snapshot's end is still reachable.
    expect(dumpDatabase(await at(reachable))).toEqual(model.dumps[reachable]);
  });

  it('checks its arguments and the schema before reading anything', async () => {
    const db = await openWriter(fixture);
    await writeHistory(db, 0, 5);
    await db.close();
    const base = { dir: fixture.dir, storage: fixture.storage, components: WORKLOAD_COMPONENTS };
    expectTyped(await rejectionOf(openAt({ ...base, lsn: -1 })), 'INVALID_ARGUMENT', 'lsn');
    expectTyped(await rejectionOf(openAt({ ...base, lsn: 1.5 })), 'INVALID_ARGUMENT', 'lsn');
    expectTyped(await rejectionOf(openAt({ ...base })), 'INVALID_ARGUMENT', 'exactly one');
    expectTyped(await rejectionOf(openAt({ ...base, lsn: 1, timeMs: 5 })), 'INVALID_ARGUMENT', 'exactly one');
    expectTyped(await rejectionOf(openAt({ ...base, components: WORKLOAD_COMPONENTS.slice(1), lsn: 1 })), 'SCHEMA_MISMATCH');
    expectTyped(await rejectionOf(openAt({ ...base, dir: join(fixture.dir, 'nothing'), lsn: 1 })), 'INVALID_ARGUMENT', 'not an ecsdb directory');
    const memory = await open({ ...HERMETIC, components: WORKLOAD_COMPONENTS, durability: 'memory' });
    expectTyped(await rejectionOf(memory.at({ lsn: 0 })), 'CONFIG_INVALID', 'memory');
    await memory.close();
  });

  it('a closed view refuses reads', async () => {
    const db = await openWriter(fixture);
    await writeHistory(db, 0, 3);
    const view = await db.at({ lsn: 2 });
    view.close();
    expect(() => view.query()).toThrow(expect.objectContaining({ code: 'DB_CLOSED' }));
    await db.close();
  });
});

describe('time travel next to a writer that archives under it', () => {
  it('lists again when a segment moves to the archive between listing and reading', async () => {
    const fixture = await BOTH_STORAGES[0].create();
    const db = await openWriter(fixture);
    for (let index = 0; index < 60; index++) {
      db.transact((tx) => STEP(tx, index));
      if (index % 7 === 6) await db.flush();
    }
    await db.close();
    const names = (await fixture.files.list(join(fixture.dir, 'wal'))).sort();
    expect(names.length).toBeGreaterThan(2);
    const moved = names[1];
    // The first read of that segment finds it gone: it was archived just after the listing.
    let racing = true;
    const storage = new Proxy(fixture.files, {
      get(target, property, receiver) {
        if (property !== 'readFile') return Reflect.get(target, property, receiver);
        return async (path: string) => {
          if (racing && path === join(fixture.dir, 'wal', moved)) {
            racing = false;
            await target.mkdir(join(fixture.dir, 'archive'));
            await target.rename(path, join(fixture.dir, 'archive', moved));
          }
          return target.readFile(path);
        };
      },
    });
    const lsn = 45; // in a segment after the one that moves
    const view = await openAt({ dir: fixture.dir, storage, components: WORKLOAD_COMPONENTS, lsn });
    expect(racing, 'the race happened').toBe(false);
    expect(dumpDatabase(view)).toEqual(model.dumps[lsn]);
    await fixture.cleanup();
  });
});

describe('a view reads like the database', () => {
  it('has the zero-copy reads too: queryRows, columns and entityAt agree with get', async () => {
    const fixture = await BOTH_STORAGES[0].create();
    const db = await openWriter(fixture);
    for (let index = 0; index < 20; index++) db.transact((tx) => STEP(tx, index));
    const view = await db.at({ lsn: 10 });
    const rows = view.queryRows(Position);
    expect(rows.length).toBe(view.query(Position).length);
    const x = view.columns(Position).x as Float32Array;
    for (const row of rows) expect(x[row]).toBe(view.get(view.entityAt(row), Position)!.x);
    expect(() => view.entityAt(1e6)).toThrow(expect.objectContaining({ code: 'NO_SUCH_ENTITY' }));
    await db.close();
    await fixture.cleanup();
  });
});
