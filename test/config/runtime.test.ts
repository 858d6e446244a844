/**
 * db.config() reports every effective setting and where it came from; db.configure() changes
 * run-time settings on an open database, and they take effect without a restart.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { open, type Database, type OpenOptions } from '../../src/index.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { expectEcsdbError } from '../helpers/errors.js';
import { Position } from '../helpers/fixtures.js';
import { WORKLOAD_COMPONENTS, workloadStep } from '../helpers/workload.js';
import { configDir, type ConfigDir } from './config-dir.js';

const DIR = '/db';
/** No automatic snapshots: only the ones a test asks for, or a changed policy, start one. */
const MANUAL_SNAPSHOTS = { everyCommits: 0, everyMs: 0, walBytesMax: 0 };

let cwd: ConfigDir;
let db: Database | undefined;
beforeEach(async () => {
  cwd = await configDir();
});
afterEach(async () => {
  await db?.close();
  db = undefined;
  await cwd.cleanup();
});

/** A database on a fresh simulated storage, with no configuration file and no environment. */
async function openSimulated(options: Partial<OpenOptions> = {}): Promise<Database> {
  db = await open({ dir: DIR, storage: new SimulatedStorage({ seed: 7 }), components: WORKLOAD_COMPONENTS, config: false, env: {}, ...options });
  return db;
}

/** Lets I/O and timers of zero delay run until `done` holds; fails after `turns` turns. */
async function until(done: () => boolean, what: string, turns = 20_000): Promise<void> {
  for (let turn = 0; turn < turns && !done(); turn++) await new Promise((resolve) => setImmediate(resolve));
  expect(done(), what).toBe(true);
}

describe('Database#config()', () => {
  it('reports each setting with the layer it came from', async () => {
    const file = await cwd.write('ecsdb.toml', '[wal]\nflush_interval_ms = 20\n[snapshot]\nkeep = 3\n');
    db = await open({
      dir: DIR,
      storage: new SimulatedStorage({ seed: 1 }),
      components: [Position],
      cwd: cwd.cwd,
      env: { ECSDB_SNAPSHOT_KEEP: '4', ECSDB_ARCHIVE_SEGMENT_COUNT_MAX: '3' },
      archive: { segmentCountMax: 5 },
    });
    const config = db.config();
    expect(config.file).toBe(file);
    expect(config.storage.dir).toEqual({ value: DIR, source: 'open()' });
    expect(config.storage.durability).toEqual({ value: 'buffered', source: 'default' });
    expect(config.wal.flushIntervalMs).toEqual({ value: 20, source: `file ${file}` });
    expect(config.wal.batchSizeBytesMax).toEqual({ value: 1024 * 1024, source: 'default' });
    expect(config.snapshot.keep).toEqual({ value: 4, source: 'env ECSDB_SNAPSHOT_KEEP' });
    expect(config.archive.segmentCountMax).toEqual({ value: 5, source: 'open()' });
    expect(config.snapshot.fullEvery).toEqual({ value: 1, source: 'default' });
  });

  it('is a fresh object: changing it changes nothing', async () => {
    await openSimulated();
    const config = db!.config() as unknown as { wal: { flushIntervalMs: { value: number } } };
    config.wal.flushIntervalMs.value = 1;
    expect(db!.config().wal.flushIntervalMs.value).toBe(100);
  });

  it('a memory database reports no dir and memory durability', async () => {
    db = await open({ components: [Position], cwd: cwd.cwd, env: {} });
    expect(db.config().storage).toEqual({ dir: { value: undefined, source: 'default' }, durability: { value: 'memory', source: 'default' } });
  });

  it('open() uses the dir and durability of ecsdb.toml and the environment', async () => {
    await cwd.write('ecsdb.toml', '[storage]\ndir = "data"\n');
    db = await open({ components: [Position], cwd: cwd.cwd, env: { ECSDB_STORAGE_DURABILITY: 'strict' } });
    expect(db.durability).toBe('strict');
    expect(db.config().storage.dir.value).toBe(join(cwd.cwd, 'data'));
    expect(existsSync(join(cwd.cwd, 'data', 'ecsdb.meta'))).toBe(true);
  });

  it('open() uses the WAL settings of the environment', async () => {
    // With the default 100 ms interval this buffered commit would wait for its timer; a batch
    // size of 1 byte flushes every commit at once, so it is durable after the flush loop runs.
    await openSimulated({ env: { ECSDB_WAL_BATCH_SIZE_BYTES_MAX: '1', ECSDB_WAL_FLUSH_INTERVAL_MS: '60000' } });
    const commit = db!.transact((tx) => tx.create());
    await commit.durable;
    expect(db!.durableLsn).toBe(commit.lsn);
  });
});

describe('Database#configure()', () => {
  it('a shorter flush interval makes a waiting buffered commit durable', { timeout: 10_000 }, async () => {
    await openSimulated({ wal: { flushIntervalMs: 60_000 } });
    const commit = db!.transact((tx) => workloadStep(tx, 1, 0));
    await until(() => true, 'settle', 50);
    expect(db!.durableLsn, 'a 60 s interval has not flushed yet').toBe(0);
    db!.configure({ wal: { flushIntervalMs: 0 } });
    await commit.durable; // without the change, only after 60 s: beyond this test's timeout
    expect(db!.durableLsn).toBe(commit.lsn);
    expect(db!.config().wal.flushIntervalMs).toEqual({ value: 0, source: 'configure()' });
  });

  it('a smaller batch size flushes a batch that already exceeds it', { timeout: 10_000 }, async () => {
    await openSimulated({ wal: { flushIntervalMs: 60_000 } });
    const commit = db!.transact((tx) => workloadStep(tx, 1, 0));
    await until(() => true, 'settle', 50);
    expect(db!.durableLsn).toBe(0);
    db!.configure({ wal: { batchSizeBytesMax: 1 } });
    await commit.durable;
    expect(db!.durableLsn).toBe(commit.lsn);
  });

  it('a snapshot policy that is now due starts a snapshot', async () => {
    await openSimulated({ snapshot: MANUAL_SNAPSHOTS });
    for (let index = 0; index < 3; index++) db!.transact((tx) => workloadStep(tx, 2, index));
    await until(() => true, 'settle', 200);
    expect(db!.snapshots, 'the manual policy takes no snapshot').toHaveLength(0);
    db!.configure({ snapshot: { everyCommits: 2 } });
    db!.transact((tx) => workloadStep(tx, 2, 3));
    await until(() => db!.snapshots.length === 1, 'a snapshot is published after the policy change');
    expect(db!.config().snapshot.everyCommits).toEqual({ value: 2, source: 'configure()' });
  });

  it('a lower archive retention prunes at the next snapshot', async () => {
    const storage = new SimulatedStorage({ seed: 9 });
    db = await open({
      dir: DIR,
      storage,
      components: WORKLOAD_COMPONENTS,
      config: false,
      env: {},
      durability: 'strict',
      wal: { segmentSizeBytesMax: 4096 },
      snapshot: { ...MANUAL_SNAPSHOTS, keep: 1 },
      archive: { segmentCountMax: 0 },
    });
    const archived = async (): Promise<number> => (await storage.list(join(DIR, 'archive'))).length;
    let index = 0;
    const commit = async (count: number): Promise<void> => {
      for (const end = index + count; index < end; index++) await db!.transact((tx) => workloadStep(tx, 3, index)).durable;
    };
    await commit(150);
    await db.snapshot();
    const before = await archived();
    expect(before, 'the workload fills several segments').toBeGreaterThan(2);
    db.configure({ archive: { segmentCountMax: 1 } });
    await commit(150);
    await db.snapshot();
    expect(await archived()).toBe(1);
  });

  it('rejects a setting that cannot change at run time, and applies nothing', async () => {
    await openSimulated();
    const durability = expectEcsdbError(() => db!.configure({ wal: { flushIntervalMs: 5 }, durability: 'strict' }), 'CONFIG_INVALID');
    expect(durability.detail).toBe('not-runtime');
    expect(durability.message).toContain('durability cannot change on an open database');
    expect(expectEcsdbError(() => db!.configure({ dir: '/elsewhere' }), 'CONFIG_INVALID').detail).toBe('not-runtime');
    expect(db!.config().wal.flushIntervalMs).toEqual({ value: 100, source: 'default' });
    expect(db!.durability).toBe('buffered');
  });

  it('rejects a bad value or an unknown key, and applies nothing', async () => {
    await openSimulated();
    const range = expectEcsdbError(() => db!.configure({ wal: { flushIntervalMs: 5 }, snapshot: { keep: 0 } }), 'CONFIG_INVALID');
    expect(range.message).toBe('configure() option snapshot.keep must be an integer from 1 to 1000, got 0');
    const unknown = expectEcsdbError(() => db!.configure({ wall: {} } as never), 'CONFIG_INVALID');
    expect(unknown.message).toContain('did you mean wal?');
    const key = expectEcsdbError(() => db!.configure({ snapshot: { everyCommit: 5 } as never }), 'CONFIG_INVALID');
    expect(key.message).toContain('did you mean snapshot.everyCommits?');
    expect(db!.config().wal.flushIntervalMs.source).toBe('default');
  });

  it('a memory database has nothing to configure', async () => {
    db = await open({ components: [Position], config: false, env: {} });
    expect(expectEcsdbError(() => db!.configure({ wal: { flushIntervalMs: 5 } }), 'CONFIG_INVALID').detail).toBe('not-runtime');
  });

  it('fails on a closed database', async () => {
    const closed = await openSimulated();
    await closed.close();
    expectEcsdbError(() => closed.configure({ wal: { flushIntervalMs: 5 } }), 'DB_CLOSED');
    expectEcsdbError(() => closed.config(), 'DB_CLOSED');
  });
});
