/**
 * db.stateHash() across persistence: the live world, the same log replayed twice, the log
 * replayed into a fresh directory without any snapshot, recovery from full and incremental
 * snapshots, another run of the same workload with other settings, and the in-memory model all
 * hash the same, allocator included (its state is part of what replay restores exactly).
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { open, type Database, type OpenOptions } from '../../src/index.js';
import type { Storage } from '../../src/storage/storage.js';
import { BOTH_STORAGES, SMALL_WAL, type DirFixture } from '../helpers/db-dir.js';
import { HERMETIC, MANUAL_SNAPSHOTS, bulkThenWorkload, listOrEmpty } from '../helpers/snapshot-dir.js';
import { WORKLOAD_COMPONENTS } from '../helpers/workload.js';

const STEP = bulkThenWorkload(4242, 400);
const COMMITS = 160;

interface Hashes {
  readonly plain: string;
  readonly allocator: string;
}

const hashesOf = (db: Database): Hashes => ({ plain: db.stateHash(), allocator: db.stateHash({ allocator: true }) });

async function run(db: Database, snapshotEvery: number): Promise<Hashes> {
  for (let index = 0; index < COMMITS; index++) {
    db.transact((tx) => STEP(tx, index));
    if (index % 9 === 8) await db.flush();
    if (snapshotEvery > 0 && index % snapshotEvery === snapshotEvery - 1) await db.snapshot();
  }
  const hashes = hashesOf(db);
  await db.close();
  return hashes;
}

async function copyFiles(files: Storage, from: string, to: string, names: (name: string) => boolean): Promise<void> {
  await files.mkdir(to);
  for (const name of await listOrEmpty(files, from)) {
    if (!names(name)) continue;
    const file = await files.open(join(to, name), 'create');
    await file.write(await files.readFile(join(from, name)), 0);
    await file.sync();
    await file.close();
  }
  await files.syncDirectory(to);
}

describe.each(BOTH_STORAGES)('stateHash across persistence on $name', (kind) => {
  let fixture: DirFixture;
  beforeEach(async () => {
    fixture = await kind.create();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  const openIn = (dir: string, options: Partial<OpenOptions> = {}) =>
    open({ ...HERMETIC, dir, storage: fixture.storage, components: WORKLOAD_COMPONENTS, wal: SMALL_WAL, ...options });

  it('is the same live, replayed twice, replayed into a fresh directory, from snapshots, and in memory', async () => {
    const incremental = { snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: 256, fullEvery: 3, keep: 4 }, archive: { segmentCountMax: 0, compress: false } };
    const live = await run(await openIn(fixture.dir, incremental), 25);

    const memory = await open({ ...HERMETIC, components: WORKLOAD_COMPONENTS, durability: 'memory' });
    for (let index = 0; index < COMMITS; index++) memory.transact((tx) => STEP(tx, index));
    expect(hashesOf(memory)).toEqual(live);
    await memory.close();

    for (const round of [1, 2]) {
      const reopened = await openIn(fixture.dir, incremental);
      expect(reopened.recovery!.snapshot, `round ${round} recovered from a snapshot`).toBeDefined();
      expect(hashesOf(reopened), `replay ${round}`).toEqual(live);
      await reopened.close();
    }

    // The log alone (archive and live segments), in a directory that never had a snapshot.
    const fresh = join(fixture.dir, '..', 'fresh');
    await copyFiles(fixture.files, fixture.dir, fresh, (name) => name === 'ecsdb.meta');
    await copyFiles(fixture.files, join(fixture.dir, 'archive'), join(fresh, 'wal'), () => true);
    await copyFiles(fixture.files, join(fixture.dir, 'wal'), join(fresh, 'wal'), () => true);
    const replayed = await openIn(fresh);
    expect(replayed.recovery!.snapshot).toBeUndefined();
    expect(replayed.recovery!.wal.firstLsn).toBe(1);
    expect(hashesOf(replayed)).toEqual(live);
    await replayed.close();

    // The same workload again, with full snapshots at other points and other batches.
    const other = join(fixture.dir, '..', 'other');
    const full = await run(await openIn(other, { snapshot: { ...MANUAL_SNAPSHOTS, fullEvery: 1 }, wal: { ...SMALL_WAL, segmentSizeBytesMax: 64 * 1024 } }), 37);
    expect(full).toEqual(live);
  });
});
