/**
 * When `commit.durable` resolves under each durability mode, and what each mode costs in fsyncs.
 * Everything runs on SimulatedStorage, whose calls take effect when made and settle in a
 * microtask, so the order of I/O calls is deterministic and no test depends on timing. The one
 * test that needs a timer to fire (flushIntervalMs) awaits it without asserting how long it took.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { EcsdbError, open, type Database, type Durability, type SyncMethod } from '../../src/index.js';
import { SimulatedStorage, type StorageCallInfo } from '../../src/storage/simulated-storage.js';
import type { OpenMode, OpenOptions, Storage, StorageFile } from '../../src/storage/storage.js';
import { settle } from '../helpers/db-dir.js';
import { Position } from '../helpers/fixtures.js';
import { WORKLOAD_COMPONENTS, dumpDatabase, modelDumps, workloadStep } from '../helpers/workload.js';

const DIR = '/data/db';
const WAL_DIR = `${DIR}/wal`;
const NEVER_MS = 60_000;
const HUGE_BATCH_BYTES = 1024 * 1024 * 1024;

interface Options {
  durability: Durability;
  flushIntervalMs?: number;
  batchSizeBytesMax?: number;
}

/**
 * The file runs under both ways of making a WAL batch durable (wal.syncMethod): write, then
 * fdatasync (the sync is the durable point) and O_DSYNC (the write is).
 */
let syncMethod: SyncMethod = 'fdatasync';

function openOn(storage: Storage, { durability, flushIntervalMs = NEVER_MS, batchSizeBytesMax = HUGE_BATCH_BYTES }: Options): Promise<Database> {
  return open({ dir: DIR, storage, components: [Position], durability, wal: { flushIntervalMs, batchSizeBytesMax, syncMethod } });
}

/** The I/O calls one batch makes on its segment: a write, and under fdatasync the sync after it. */
const batchOps = (): string[] => (syncMethod === 'dsync' ? ['write'] : ['write', 'sync']);
/** The call that makes a WAL batch durable. */
const isWalDurablePoint = (call: StorageCallInfo): boolean => (syncMethod === 'dsync' ? isWalWrite(call) : isWalSync(call));

let nextX = 0;

/** One W1 point commit: a new entity, or a new Position x of the given one. */
function pointCommit(db: Database, durability?: Durability, entity?: number) {
  return db.transact(
    (tx) => {
      const e = entity ?? tx.create();
      if (entity === undefined) tx.add(e, Position, { x: nextX++ });
      else tx.set(e, Position, { x: nextX++ });
      return e;
    },
    durability === undefined ? undefined : { durability },
  );
}

/** Records every I/O call from now on. */
function recordCalls(storage: SimulatedStorage): StorageCallInfo[] {
  const calls: StorageCallInfo[] = [];
  storage.onCall = (info) => calls.push(info);
  return calls;
}

const isWalSync = (call: StorageCallInfo): boolean => call.op === 'sync' && call.path.startsWith(`${WAL_DIR}/`);
const isWalWrite = (call: StorageCallInfo): boolean => call.op === 'write' && call.path.startsWith(`${WAL_DIR}/`);

/**
 * Wraps a storage so that file syncs, once `hold` is set, do their work but do not return until
 * released: an fsync that is still in progress.
 */
class SyncGate implements Storage {
  hold = false;
  readonly held: (() => void)[] = [];

  constructor(private readonly inner: Storage) {}

  releaseAll(): void {
    this.hold = false;
    for (const release of this.held.splice(0)) release();
  }

  async open(path: string, mode: OpenMode, options?: OpenOptions): Promise<StorageFile> {
    const file = await this.inner.open(path, mode, options);
    // Under O_DSYNC the write is the fsync, so it is the call held.
    const holdWrites = file.syncsEachWrite === true;
    return {
      path: file.path,
      syncsEachWrite: file.syncsEachWrite,
      write: async (data, position) => {
        await file.write(data, position);
        if (this.hold && holdWrites) await new Promise<void>((resolve) => this.held.push(resolve));
      },
      read: (position, length) => file.read(position, length),
      truncate: (sizeBytes) => file.truncate(sizeBytes),
      sizeBytes: () => file.sizeBytes(),
      close: () => file.close(),
      sync: async () => {
        await file.sync();
        if (this.hold && !holdWrites) await new Promise<void>((resolve) => this.held.push(resolve));
      },
    };
  }

  readFile = (path: string) => this.inner.readFile(path);
  rename = (from: string, to: string) => this.inner.rename(from, to);
  unlink = (path: string) => this.inner.unlink(path);
  mkdir = (path: string) => this.inner.mkdir(path);
  syncDirectory = (path: string) => this.inner.syncDirectory(path);
  list = (path: string) => this.inner.list(path);
  stat = (path: string) => this.inner.stat(path);
}

describe.each<SyncMethod>(['fdatasync', 'dsync'])('wal.syncMethod %s', (method) => {
beforeAll(() => {
  syncMethod = method;
});

describe('strict durability', () => {
  test('durable stays pending while the fsync covering the record is in progress', async () => {
    const storage = new SimulatedStorage();
    const gate = new SyncGate(storage);
    const db = await openOn(gate, { durability: 'strict' });
    const e = pointCommit(db).value;
    await db.flush(); // the segment exists; the next batch is one write and one sync
    const calls = recordCalls(storage);
    gate.hold = true;
    const commit = pointCommit(db, undefined, e);
    let resolved = false;
    void commit.durable.then(() => (resolved = true));
    await settle();
    expect(calls.map((call) => call.op)).toEqual(batchOps());
    expect(calls.at(-1)!.path).toBe(calls[0].path);
    expect(gate.held.length, 'the fsync is in progress').toBe(1);
    expect(resolved).toBe(false);
    expect(db.durableLsn).toBe(commit.lsn - 1);
    gate.releaseAll();
    await commit.durable;
    expect(db.durableLsn).toBe(commit.lsn);
    await db.close();
  });

  test('durable resolves only after a sync of the segment that follows the write carrying the record', async () => {
    const storage = new SimulatedStorage();
    const db = await openOn(storage, { durability: 'strict' });
    const calls = recordCalls(storage);
    for (let i = 0; i < 5; i++) {
      const commit = pointCommit(db);
      const durableAtCall = await commit.durable.then(() => calls.length);
      const writes = calls.slice(0, durableAtCall).map((call, index) => (isWalWrite(call) ? index : -1));
      const lastWrite = Math.max(...writes);
      expect(lastWrite, `commit ${commit.lsn} was written`).toBeGreaterThanOrEqual(0);
      if (syncMethod === 'fdatasync') {
        const syncAfter = calls.findIndex((call, index) => index > lastWrite && isWalSync(call) && call.path === calls[lastWrite].path);
        expect(syncAfter, `commit ${commit.lsn}: its segment was synced after the write`).toBeGreaterThan(lastWrite);
        expect(syncAfter).toBeLessThan(durableAtCall);
      }
      // Whatever the method, a power loss right when durable resolved keeps the commit.
      const survivor = await open({ dir: DIR, storage: storage.clone().crash({ tear: 'none' }), components: [Position] });
      expect(survivor.lsn, `commit ${commit.lsn} survives a power loss`).toBe(commit.lsn);
      await survivor.close();
    }
    await db.close();
  });

  test('a failed fsync rejects durable with IO_FAILED instead of resolving it', async () => {
    const storage = new SimulatedStorage();
    const db = await openOn(storage, { durability: 'strict' });
    await pointCommit(db).durable;
    // Under O_DSYNC the durable point is the batch's write, the next I/O call.
    if (syncMethod === 'dsync') storage.failAt(storage.ioCount, 'EIO');
    else storage.failNextSync('EIO');
    await expect(pointCommit(db).durable).rejects.toMatchObject({ code: 'IO_FAILED' });
    await db.close().catch(() => undefined);
  });

  test('1,000 strict commits issued in one synchronous loop share very few fsyncs (group commit)', async () => {
    const storage = new SimulatedStorage();
    const db = await openOn(storage, { durability: 'strict' });
    const calls = recordCalls(storage);
    const e = pointCommit(db).value;
    const commits = [];
    for (let i = 0; i < 1000; i++) commits.push(pointCommit(db, undefined, e));
    await Promise.all(commits.map((commit) => commit.durable));
    expect(db.durableLsn).toBe(commits[commits.length - 1].lsn);
    expect(calls.filter(isWalDurablePoint).length).toBeLessThanOrEqual(3);
    await db.close();
  });

  test('strict commits made while an fsync is in progress all share the next one', async () => {
    const storage = new SimulatedStorage();
    const gate = new SyncGate(storage);
    const db = await openOn(gate, { durability: 'strict' });
    const e = pointCommit(db).value;
    await db.flush();
    const calls = recordCalls(storage);
    gate.hold = true;
    const first = pointCommit(db, undefined, e);
    await settle();
    expect(gate.held.length).toBe(1);
    const waiting = [];
    for (let i = 0; i < 100; i++) {
      waiting.push(pointCommit(db, undefined, e));
      await Promise.resolve(); // commits arrive one by one, not in one synchronous run
    }
    gate.releaseAll();
    await first.durable;
    await Promise.all(waiting.map((commit) => commit.durable));
    expect(calls.filter(isWalDurablePoint).length).toBe(2);
    await db.close();
  });
});

describe('buffered durability', () => {
  test('a buffered commit does no I/O when it is made', async () => {
    const storage = new SimulatedStorage();
    const db = await openOn(storage, { durability: 'buffered', flushIntervalMs: 5 });
    const calls = recordCalls(storage);
    const commit = pointCommit(db);
    expect(calls).toEqual([]);
    expect(db.durableLsn).toBeLessThan(commit.lsn);
    await db.close();
  });

  test('buffered commits become durable on flushIntervalMs', async () => {
    const storage = new SimulatedStorage();
    const db = await openOn(storage, { durability: 'buffered', flushIntervalMs: 5 });
    const calls = recordCalls(storage);
    const commits = [pointCommit(db), pointCommit(db), pointCommit(db)];
    await commits[2].durable;
    expect(db.durableLsn).toBe(commits[2].lsn);
    expect(calls.some(isWalDurablePoint)).toBe(true);
    await Promise.all(commits.map((commit) => commit.durable));
    await db.close();
  });

  test('buffered commits wait for the interval when the batch is small', async () => {
    const storage = new SimulatedStorage();
    const db = await openOn(storage, { durability: 'buffered', flushIntervalMs: NEVER_MS });
    const calls = recordCalls(storage);
    const commit = pointCommit(db);
    await settle(10);
    expect(calls).toEqual([]);
    expect(db.durableLsn).toBe(0);
    await db.close();
    expect(commit.lsn).toBe(1);
  });

  test('a buffered batch reaching batchSizeBytesMax is flushed without waiting for the interval', async () => {
    const storage = new SimulatedStorage();
    const db = await openOn(storage, { durability: 'buffered', flushIntervalMs: NEVER_MS, batchSizeBytesMax: 200 });
    const e = pointCommit(db).value;
    const durableAfter: number[] = [];
    let crossing: ReturnType<typeof pointCommit> | undefined;
    for (let i = 0; i < 20 && crossing === undefined; i++) {
      const commit = pointCommit(db, undefined, e);
      await settle();
      durableAfter.push(db.durableLsn);
      if (db.durableLsn === commit.lsn) crossing = commit;
    }
    expect(crossing, `durableLsn after each commit: ${durableAfter.join(', ')}`).toBeDefined();
    // About 39 bytes per record: the batch needs several commits before it reaches 200 bytes.
    expect(crossing!.lsn).toBeGreaterThan(3);
    expect(durableAfter.slice(0, -1).every((lsn) => lsn === 0)).toBe(true);
    await crossing!.durable;
    await db.close();
  });
});

});

describe('per-transaction durability', () => {
  test('a strict commit on a buffered database makes every earlier commit durable too', async () => {
    const storage = new SimulatedStorage();
    const db = await openOn(storage, { durability: 'buffered' });
    const earlier = [pointCommit(db), pointCommit(db), pointCommit(db)];
    const settled = earlier.map(() => false);
    earlier.forEach((commit, i) => void commit.durable.then(() => (settled[i] = true)));
    await settle();
    expect(db.durableLsn).toBe(0);
    const strict = pointCommit(db, 'strict');
    await strict.durable;
    await Promise.resolve();
    expect(db.durableLsn).toBe(strict.lsn);
    expect(settled).toEqual([true, true, true]);
    await db.close();
  });

  test('a buffered commit on a strict database waits for the interval', async () => {
    const storage = new SimulatedStorage();
    const db = await openOn(storage, { durability: 'strict' });
    await pointCommit(db).durable;
    const buffered = pointCommit(db, 'buffered');
    await settle(10);
    expect(db.durableLsn).toBe(buffered.lsn - 1);
    await pointCommit(db, 'strict').durable;
    expect(db.durableLsn).toBe(buffered.lsn + 1);
    await db.close();
  });

  test('a strict transaction that changes nothing makes the commits it read durable', async () => {
    const storage = new SimulatedStorage();
    const db = await openOn(storage, { durability: 'buffered' });
    const commit = pointCommit(db);
    const empty = db.transact(() => 'read only', { durability: 'strict' });
    expect(empty.lsn).toBe(commit.lsn);
    await empty.durable;
    expect(db.durableLsn).toBe(commit.lsn);
    await db.close();
  });

  test.each<Durability>(['strict', 'buffered'])("a memory database rejects durability '%s' per transaction with CONFIG_INVALID", async (durability) => {
    const db = await open({ components: [Position], durability: 'memory' });
    let ran = false;
    const error = (() => {
      try {
        db.transact(() => (ran = true), { durability });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(EcsdbError);
    expect((error as EcsdbError).code).toBe('CONFIG_INVALID');
    expect(ran, 'the callback must not run').toBe(false);
    expect(db.lsn).toBe(0);
    await db.close();
  });

  test("a database with a WAL rejects durability 'memory' per transaction with CONFIG_INVALID", async () => {
    const storage = new SimulatedStorage();
    const db = await openOn(storage, { durability: 'buffered' });
    const calls = recordCalls(storage);
    let ran = false;
    expect(() => db.transact(() => (ran = true), { durability: 'memory' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(ran).toBe(false);
    expect(db.lsn).toBe(0);
    await db.close();
    expect(calls.filter(isWalWrite)).toEqual([]);
  });

  test('an unknown durability per transaction is CONFIG_INVALID', async () => {
    const db = await open({ components: [Position], durability: 'memory' });
    expect(() => db.transact(() => 1, { durability: 'fast' as Durability })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    await db.close();
  });
});

describe('close()', () => {
  test('close() makes buffered commits durable: a power loss right after keeps them', async () => {
    const seed = 31;
    const storage = new SimulatedStorage();
    const db = await open({ dir: DIR, storage, components: WORKLOAD_COMPONENTS, wal: { flushIntervalMs: NEVER_MS } });
    for (let index = 0; index < 40; index++) db.transact((tx) => workloadStep(tx, seed, index));
    const lsn = db.lsn;
    await db.close();
    const model = await modelDumps(open, seed, 40);
    const reopened = await open({ dir: DIR, storage: storage.crash({ tear: 'none' }), components: WORKLOAD_COMPONENTS });
    expect(reopened.lsn).toBe(lsn);
    expect(dumpDatabase(reopened)).toEqual(model[lsn]);
    await reopened.close();
  });

  test('every call after close() fails with DB_CLOSED, and close() again does nothing', async () => {
    const storage = new SimulatedStorage();
    const db = await openOn(storage, { durability: 'buffered' });
    const e = pointCommit(db).value;
    await db.close();
    const calls = recordCalls(storage);
    const attempts: [string, () => unknown][] = [
      ['transact', () => db.transact((tx) => tx.create())],
      ['get', () => db.get(e, Position)],
      ['has', () => db.has(e, Position)],
      ['exists', () => db.exists(e)],
      ['query', () => db.query(Position)],
      ['queryRows', () => db.queryRows(Position)],
      ['columns', () => db.columns(Position)],
      ['entityAt', () => db.entityAt(0)],
    ];
    for (const [name, attempt] of attempts) {
      expect(attempt, name).toThrow(expect.objectContaining({ code: 'DB_CLOSED' }));
    }
    await expect(db.flush()).rejects.toMatchObject({ code: 'DB_CLOSED' });
    await db.close();
    expect(db.closed).toBe(true);
    expect(calls).toEqual([]);
  });
});

test('durableLsn never decreases and never passes lsn, at any I/O call of a mixed workload', async () => {
  const seed = 32;
  const storage = new SimulatedStorage();
  const db = await open({ dir: DIR, storage, components: WORKLOAD_COMPONENTS, wal: { flushIntervalMs: 1, batchSizeBytesMax: 300, segmentSizeBytesMax: 4096 } });
  const samples: number[] = [];
  const sample = (): void => {
    samples.push(db.durableLsn);
    expect(db.durableLsn).toBeLessThanOrEqual(db.lsn);
  };
  storage.onCall = sample;
  for (let index = 0; index < 200; index++) {
    const commit = db.transact((tx) => workloadStep(tx, seed, index), { durability: index % 9 === 0 ? 'strict' : 'buffered' });
    sample();
    if (index % 4 === 0) await Promise.resolve();
    if (index % 25 === 0) await commit.durable;
    sample();
  }
  await db.flush();
  sample();
  expect(db.durableLsn).toBe(db.lsn);
  storage.onCall = undefined;
  await db.close();
  expect(samples.length).toBeGreaterThan(400);
  for (let i = 1; i < samples.length; i++) expect(samples[i], `sample ${i}`).toBeGreaterThanOrEqual(samples[i - 1]);
});
