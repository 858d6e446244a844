/**
 * When snapshots happen and what they leave: automatic snapshots by commit count, WAL growth and
 * elapsed time; keeping the newest K; a second db.snapshot() joining a running one; commits
 * going on during a snapshot; and the options and modes where snapshots are refused.
 *
 * Background work is awaited by turns (waitUntil), never by asserting how long anything took.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { open, type Database, type OpenOptions } from '../../src/index.js';
import { decodeManifest } from '../../src/snapshot/manifest.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { REAL, SIMULATED, SMALL_WAL, openFixture, readBytes, settle, type DirFixture } from '../helpers/db-dir.js';
import { Name, Position } from '../helpers/fixtures.js';
import { WORKLOAD_COMPONENTS, dumpDatabase } from '../helpers/workload.js';
import {
  HERMETIC,
  MANUAL_SNAPSHOTS,
  bulkThenWorkload,
  expectTyped,
  listOrEmpty,
  manifestPathOf,
  modelFinal,
  rejectionOf,
  snapshotsDirOf,
  waitUntil,
} from '../helpers/snapshot-dir.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fresh(options: Partial<OpenOptions>): Promise<{ fixture: DirFixture; db: Database }> {
  const fixture = await SIMULATED.create();
  cleanups.push(() => fixture.cleanup());
  const db = await openFixture(fixture, { ...HERMETIC, ...options });
  cleanups.push(() => db.close());
  return { fixture, db };
}

function moveOne(db: Database, step: number): void {
  db.transact((tx) => {
    const e = tx.create();
    tx.add(e, Position, { x: step });
  });
}

async function snapshotFilesOf(fixture: DirFixture): Promise<string[]> {
  return (await listOrEmpty(fixture.files, snapshotsDirOf(fixture.dir))).filter((name) => name.endsWith('.snap'));
}

describe('automatic snapshots', () => {
  test('everyCommits starts one once that many commits were made since the last', async () => {
    const { db } = await fresh({ snapshot: { ...MANUAL_SNAPSHOTS, everyCommits: 50 } });
    for (let i = 0; i < 49; i++) moveOne(db, i);
    await settle(20);
    expect(db.snapshots, 'none after 49 commits').toEqual([]);
    moveOne(db, 49);
    await waitUntil(() => db.snapshots.length === 1, 'the snapshot after 50 commits');
    expect(db.snapshots[0].startLsn).toBe(50);
    for (let i = 50; i < 100; i++) moveOne(db, i);
    await waitUntil(() => db.snapshots.length === 2, 'the snapshot after 50 more commits');
    expect(db.snapshots[1].startLsn).toBe(100);
  });

  test('walBytesMax starts one once the WAL grew by that many bytes, whatever the commit count', async () => {
    const { db } = await fresh({ snapshot: { ...MANUAL_SNAPSHOTS, walBytesMax: 8192 } });
    for (let i = 0; i < 10; i++) moveOne(db, i); // a few hundred bytes
    await settle(20);
    expect(db.snapshots, 'none while the WAL is small').toEqual([]);
    db.transact((tx) => {
      const e = tx.create();
      tx.add(e, Name, { value: 'w'.repeat(10_000) });
    });
    await waitUntil(() => db.snapshots.length === 1, 'the snapshot after 10 KB of WAL');
    expect(db.snapshots[0].startLsn).toBe(11);
  });

  test('everyMs starts one on its interval once something was committed, and not before', async () => {
    const { db } = await fresh({ snapshot: { ...MANUAL_SNAPSHOTS, everyMs: 10 } });
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(db.snapshots, 'nothing committed, nothing to snapshot').toEqual([]);
    moveOne(db, 0);
    await waitUntil(() => db.snapshots.length === 1, 'the timed snapshot');
    expect(db.snapshots[0].endLsn).toBe(1);
  });

  test('an automatic snapshot is found by the next open', async () => {
    const { fixture, db } = await fresh({ snapshot: { ...MANUAL_SNAPSHOTS, everyCommits: 20 } });
    for (let i = 0; i < 30; i++) moveOne(db, i);
    await waitUntil(() => db.snapshots.length === 1, 'the automatic snapshot');
    const file = db.snapshots[0].file;
    await db.close();
    const reopened = await openFixture(fixture, HERMETIC);
    cleanups.push(() => reopened.close());
    expect(reopened.recovery!.snapshot?.file).toBe(file);
    expect(reopened.lsn).toBe(30);
  });
});

describe('keeping snapshots', () => {
  test('keep K leaves the newest K in the manifest and on disk, and deletes the older files', async () => {
    const { fixture, db } = await fresh({ snapshot: { ...MANUAL_SNAPSHOTS, keep: 3 } });
    const entries = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 10; i++) moveOne(db, round * 10 + i);
      entries.push(await db.snapshot());
    }
    const newest = entries.slice(-3).map((entry) => entry.file);
    expect(db.snapshots.map((entry) => entry.file)).toEqual(newest);
    expect(await snapshotFilesOf(fixture)).toEqual(newest);
    const manifest = decodeManifest(await readBytes(fixture.files, manifestPathOf(fixture.dir)), 'MANIFEST');
    expect(manifest.snapshots.map((entry) => entry.file)).toEqual(newest);
    await db.close();
    const reopened = await openFixture(fixture, HERMETIC);
    cleanups.push(() => reopened.close());
    expect(reopened.snapshots.map((entry) => entry.file)).toEqual(newest);
  });

  test('keep 1 leaves exactly one snapshot', async () => {
    const { fixture, db } = await fresh({ snapshot: { ...MANUAL_SNAPSHOTS, keep: 1 } });
    for (let round = 0; round < 3; round++) {
      moveOne(db, round);
      await db.snapshot();
    }
    expect(db.snapshots.length).toBe(1);
    expect(await snapshotFilesOf(fixture)).toEqual([db.snapshots[0].file]);
  });
});

describe('db.snapshot()', () => {
  test('a second call while one runs joins it: the same snapshot, one file', async () => {
    const { fixture, db } = await fresh({ snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: 256 } });
    const bulk = bulkThenWorkload(1, 2000);
    db.transact((tx) => bulk(tx, 0));
    const [first, second] = await Promise.all([db.snapshot(), db.snapshot()]);
    expect(second).toEqual(first);
    expect(db.snapshots.length).toBe(1);
    expect(await snapshotFilesOf(fixture)).toEqual([first.file]);
  });

  test('a call after one finished takes a new snapshot', async () => {
    const { db } = await fresh({ snapshot: MANUAL_SNAPSHOTS });
    moveOne(db, 0);
    const first = await db.snapshot();
    moveOne(db, 1);
    const second = await db.snapshot();
    expect(second.endLsn).toBe(first.endLsn + 1);
    expect(db.snapshots.map((entry) => entry.file)).toEqual([first.file, second.file]);
  });

  test.each([SIMULATED, REAL])('commits go on during a snapshot and are all present after reopen ($name)', async (kind) => {
    const fixture = await kind.create();
    cleanups.push(() => fixture.cleanup());
    const step = bulkThenWorkload(7, 3000);
    const options = { ...HERMETIC, wal: SMALL_WAL, snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: 256 } };
    const db = await openFixture(fixture, options);
    db.transact((tx) => step(tx, 0));
    let index = 1;
    let done = false;
    const snapshot = db.snapshot().finally(() => (done = true));
    let during = 0;
    while (!done) {
      db.transact((tx) => step(tx, index++));
      during++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const entry = await snapshot;
    expect(entry.chunkCount, 'the world spans many chunks').toBeGreaterThanOrEqual(10);
    expect(during, 'commits were made while the snapshot ran').toBeGreaterThan(1);
    expect(entry.endLsn).toBeGreaterThan(entry.startLsn);
    for (let i = 0; i < 20; i++) db.transact((tx) => step(tx, index++));
    const lsn = db.lsn;
    await db.close();
    const model = await modelFinal(step, index);
    expect(model.lsn).toBe(lsn);
    const reopened = await openFixture(fixture, options);
    cleanups.push(() => reopened.close());
    expect(reopened.recovery!.snapshot?.file).toBe(entry.file);
    expect(reopened.lsn).toBe(lsn);
    expect(dumpDatabase(reopened)).toEqual(model.dump);
  });

  test('on a memory database it fails with CONFIG_INVALID', async () => {
    const db = await open({ ...HERMETIC, components: WORKLOAD_COMPONENTS, durability: 'memory' });
    expectTyped(await rejectionOf(db.snapshot()), 'CONFIG_INVALID');
    expect(db.snapshots).toEqual([]);
    await db.close();
  });

  test('on a closed database it fails with DB_CLOSED', async () => {
    const { db } = await fresh({});
    await db.close();
    expectTyped(await rejectionOf(db.snapshot()), 'DB_CLOSED');
  });
});

describe('invalid snapshot and archive options', () => {
  test.each<[string, Partial<OpenOptions>, string]>([
    ['keep 0', { snapshot: { keep: 0 } }, 'keep'],
    ['keep not an integer', { snapshot: { keep: 1.5 } }, 'keep'],
    ['chunkSlots below the minimum', { snapshot: { chunkSlots: 10 } }, 'chunkSlots'],
    ['everyCommits negative', { snapshot: { everyCommits: -1 } }, 'everyCommits'],
    ['everyMs a string', { snapshot: { everyMs: '10' as never } }, 'everyMs'],
    ['walBytesMax NaN', { snapshot: { walBytesMax: Number.NaN } }, 'walBytesMax'],
    ['compress not a boolean', { snapshot: { compress: 'yes' as never } }, 'compress'],
    ['an unknown snapshot key', { snapshot: { kep: 2 } as never }, 'kep'],
    ['snapshot not an object', { snapshot: 5 as never }, 'snapshot'],
    ['archive segmentCountMax negative', { archive: { segmentCountMax: -1 } }, 'segmentCountMax'],
    ['archive sizeBytesMax fractional', { archive: { sizeBytesMax: 0.5 } }, 'sizeBytesMax'],
    ['archive compress a number', { archive: { compress: 1 as never } }, 'compress'],
    ['an unknown archive key', { archive: { segmentsMax: 2 } as never }, 'segmentsMax'],
  ])('%s fails with CONFIG_INVALID before touching the directory', async (_what, bad, key) => {
    const storage = new SimulatedStorage();
    const error = await rejectionOf(open({ ...HERMETIC, dir: '/data/db', storage, components: WORKLOAD_COMPONENTS, ...bad }));
    expectTyped(error, 'CONFIG_INVALID', key);
    expect(storage.ioCount, 'no I/O before the options are checked').toBe(0);
  });

  test('the defaults are valid and snapshots work with them', async () => {
    const { fixture, db } = await fresh({});
    moveOne(db, 0);
    const entry = await db.snapshot();
    expect(await snapshotFilesOf(fixture)).toEqual([entry.file]);
    expect(db.snapshots).toEqual([expect.objectContaining({ file: entry.file, startLsn: 1, endLsn: 1 })]);
  });
});
