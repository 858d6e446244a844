/**
 * Full batches handed straight to storage by `append` (WalWriter #handOver): a loop that
 * commits without yielding gets its log written batch by batch, in order, each batch one write;
 * a storage that refuses a queued write gets the batch from the flush loop instead; a failed
 * handed-over write fails its batch and every later one, and nothing acknowledged is lost.
 * On SimulatedStorage (deterministic); the crash proofs cover the same path at every I/O call,
 * and test/storage/write-thread.test.ts the real thread.
 */
import { describe, expect, test } from 'vitest';
import { EcsdbError, open, type Commit, type Database, type SyncMethod } from '../../src/index.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import type { OpenMode, OpenOptions, Storage, StorageFile } from '../../src/storage/storage.js';
import { Position } from '../helpers/fixtures.js';

const DIR = '/data/db';
const BATCH_BYTES = 2000;

interface WalWrite {
  readonly how: 'queued' | 'write';
  readonly path: string;
  readonly position: number;
  readonly length: number;
  /** For a plain write: how many queued writes had not finished when it started. */
  readonly queuedPending?: number;
}

interface RecordingOptions {
  /** Refuses the queued writes it picks (by their number, from 0). */
  readonly refuse?: (n: number) => boolean;
  /** Writes to the WAL (plain and queued) take an event loop turn, as on a real disk; told when one starts. */
  readonly slowWrites?: () => void;
}

/**
 * Storage that records every write to a WAL segment (queued ones when queued: they land in that
 * order), and can refuse queued writes or slow plain ones down.
 */
function recordingStorage(inner: Storage, writes: WalWrite[], { refuse = () => false, slowWrites }: RecordingOptions = {}): Storage {
  let queuedCalls = 0;
  truncatedWhileQueued = false;
  /** Queued WAL writes not finished yet: a plain write or a truncate must not start meanwhile. */
  let queuedPending = 0;
  const wrap = (file: StorageFile): StorageFile => {
    const isWal = file.path.includes('/wal/');
    return {
      path: file.path,
      get syncsEachWrite() {
        return file.syncsEachWrite;
      },
      write: async (data, position) => {
        if (isWal) writes.push({ how: 'write', path: file.path, position, length: data.length, queuedPending });
        if (isWal && slowWrites !== undefined) {
          slowWrites();
          await new Promise((resolve) => setImmediate(resolve));
        }
        return file.write(data, position);
      },
      queueDurableWrite: (data, position) => {
        if (refuse(queuedCalls++)) return undefined;
        if (!isWal) return file.queueDurableWrite!(data, position);
        writes.push({ how: 'queued', path: file.path, position, length: data.length });
        queuedPending++;
        let queued: Promise<void>;
        if (slowWrites === undefined) {
          queued = file.queueDurableWrite!(data, position)!;
        } else {
          slowWrites();
          // Each waits one turn, in the order queued, then joins the real queue in that order.
          const copy = data.slice();
          queued = new Promise<void>((resolve) => setImmediate(resolve)).then(() => file.queueDurableWrite!(copy, position));
        }
        return queued.finally(() => queuedPending--);
      },
      read: (position, length) => file.read(position, length),
      sync: () => file.sync(),
      truncate: (size) => {
        if (isWal) truncatedWhileQueued ||= queuedPending > 0;
        return file.truncate(size);
      },
      sizeBytes: () => file.sizeBytes(),
      close: () => file.close(),
    };
  };
  return {
    open: async (path: string, mode: OpenMode, options?: OpenOptions) => wrap(await inner.open(path, mode, options)),
    readFile: (path) => inner.readFile(path),
    rename: (from, to) => inner.rename(from, to),
    unlink: (path) => inner.unlink(path),
    mkdir: (path) => inner.mkdir(path),
    syncDirectory: (path) => inner.syncDirectory(path),
    list: (path) => inner.list(path),
    stat: (path) => inner.stat(path),
  };
}

/**
 * Opens the database and makes its first commit durable: a batch is only handed over into a
 * segment that exists, and the first one is created by the flush loop.
 */
async function openOn(storage: Storage, syncMethod: SyncMethod, segmentSizeBytesMax = 64 * 1024 * 1024): Promise<Database> {
  const db = await open({
    dir: DIR,
    storage,
    components: [Position],
    durability: 'buffered',
    config: false,
    wal: { flushIntervalMs: 60_000, batchSizeBytesMax: BATCH_BYTES, syncMethod, preallocateBytes: 0, segmentSizeBytesMax },
    snapshot: { everyCommits: 0, everyMs: 0, walBytesMax: 0 },
  });
  if (db.lsn === 0) await db.transact((tx) => tx.create(), { durability: 'strict' }).durable;
  return db;
}

/** `count` commits in one synchronous stretch, each setting x of a new entity to its index. */
function commitWithoutYielding(db: Database, from: number, count: number): Commit<number>[] {
  const commits: Commit<number>[] = [];
  for (let i = from; i < from + count; i++) {
    commits.push(db.transact((tx) => {
      const e = tx.create();
      tx.add(e, Position, { x: i, y: -i, z: 0.5 });
      return e;
    }));
  }
  return commits;
}

/** The x of every entity with Position, sorted. */
function xs(db: Database): number[] {
  return db.query(Position).map((e) => db.get(e, Position)!.x).sort((a, b) => a - b);
}

/** Set when a WAL segment was truncated while queued writes were pending (never allowed). */
let truncatedWhileQueued = false;

/**
 * Every write lands where the one before it in the same segment ended, and no plain write (or
 * truncate) started while queued writes were pending.
 */
function expectContiguous(writes: readonly WalWrite[]): void {
  expect(writes.filter((write) => (write.queuedPending ?? 0) > 0)).toEqual([]);
  expect(truncatedWhileQueued).toBe(false);
  const ends = new Map<string, number>();
  for (const write of writes) {
    const end = ends.get(write.path);
    if (end !== undefined) expect(write.position, `${write.how} to ${write.path}`).toBe(end);
    ends.set(write.path, write.position + write.length);
  }
}

/**
 * Waits for every commit, checks that the WAL writes landed end to end, closes, and checks that
 * the reopened database holds exactly the entities x = 0 .. count - 1.
 */
async function expectAllDurable(db: Database, storage: Storage, writes: readonly WalWrite[], commits: readonly Commit<number>[], count: number, syncMethod: SyncMethod): Promise<void> {
  await db.flush();
  for (const commit of commits) await commit.durable;
  expectContiguous(writes);
  await db.close();
  const reopened = await openOn(storage, syncMethod);
  expect(xs(reopened)).toEqual(Array.from({ length: count }, (_, i) => i));
  await reopened.close();
}

describe.each(['fdatasync', 'dsync'] as const)('WAL batches handed over (syncMethod %s)', (syncMethod) => {
  test('a loop that never yields hands each batch over as it fills, one write each, in order', async () => {
    const writes: WalWrite[] = [];
    const storage = new SimulatedStorage();
    const db = await openOn(recordingStorage(storage, writes), syncMethod);
    writes.length = 0;
    const commits = commitWithoutYielding(db, 0, 300);
    const queued = writes.filter((write) => write.how === 'queued');
    // Handed over during the loop: no event loop turn has happened yet.
    expect(queued.length).toBeGreaterThanOrEqual(5);
    expect(queued.every((write) => write.length >= BATCH_BYTES && write.length < BATCH_BYTES + 200)).toBe(true);
    // A strict commit after them is written after them.
    const last = db.transact((tx) => tx.create(), { durability: 'strict' });
    await last.durable;
    for (const commit of commits) await commit.durable;
    expectContiguous(writes);
    expect(db.durableLsn).toBe(last.lsn);
    await db.close();
    const reopened = await openOn(storage, syncMethod);
    expect(xs(reopened)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    await reopened.close();
  });

  test('a queued write the storage refuses is written by the flush loop, still in order', async () => {
    const writes: WalWrite[] = [];
    const storage = new SimulatedStorage();
    const db = await openOn(recordingStorage(storage, writes, { refuse: (n) => n % 3 === 1 }), syncMethod);
    const commits = [...commitWithoutYielding(db, 0, 200)];
    await new Promise((resolve) => setImmediate(resolve));
    commits.push(...commitWithoutYielding(db, 200, 200));
    await db.flush();
    for (const commit of commits) await commit.durable;
    expect(writes.some((write) => write.how === 'queued')).toBe(true);
    expect(writes.some((write) => write.how === 'write')).toBe(true);
    expectContiguous(writes);
    await db.close();
    const reopened = await openOn(storage, syncMethod);
    expect(xs(reopened)).toEqual(Array.from({ length: 400 }, (_, i) => i));
    await reopened.close();
  });

  test('while the flush loop writes a small batch alone (through write), batches that fill are not handed over, and land after it', async () => {
    const writes: WalWrite[] = [];
    const storage = new SimulatedStorage();
    let writeStarted: () => void = () => undefined;
    const db = await openOn(recordingStorage(storage, writes, { slowWrites: () => writeStarted() }), syncMethod);
    const started = new Promise<void>((resolve) => (writeStarted = resolve));
    const strict = db.transact((tx) => tx.create(), { durability: 'strict' });
    await started; // the flush loop is writing the strict commit's batch
    expect(writes.at(-1)!.how).toBe('write');
    writes.length = 0;
    const commits = commitWithoutYielding(db, 0, 300);
    expect(writes.filter((write) => write.how === 'queued')).toEqual([]);
    await strict.durable;
    await expectAllDurable(db, storage, writes, commits, 300, syncMethod);
  });

  test('a small batch behind batches handed over is queued behind them, and more are handed over behind it', async () => {
    const writes: WalWrite[] = [];
    const storage = new SimulatedStorage();
    const db = await openOn(recordingStorage(storage, writes, { slowWrites: () => undefined }), syncMethod);
    writes.length = 0;
    const commits = commitWithoutYielding(db, 0, 300);
    // Up to the next hand-over, so that the strict commit is alone in its batch (a batch that
    // crossed batchSizeBytesMax with it would be handed over by append itself).
    for (let handedOver = writes.length; writes.length === handedOver; ) commits.push(...commitWithoutYielding(db, commits.length, 1));
    const strict = db.transact((tx) => tx.create(), { durability: 'strict' });
    // Microtasks only: the flush loop runs, the slow writes (a macrotask each) stay queued.
    const isStrictBatch = (write: WalWrite): boolean => write.length < BATCH_BYTES;
    for (let i = 0; i < 50 && !writes.some(isStrictBatch); i++) await Promise.resolve();
    const strictAt = writes.findIndex(isStrictBatch);
    expect(strictAt).toBeGreaterThanOrEqual(5);
    expect(writes.every((write) => write.how === 'queued')).toBe(true);
    commits.push(...commitWithoutYielding(db, commits.length, 300));
    expect(writes.length - strictAt - 1).toBeGreaterThanOrEqual(5);
    expect(writes.every((write) => write.how === 'queued')).toBe(true);
    await strict.durable;
    await expectAllDurable(db, storage, writes, commits, commits.length, syncMethod);
  });

  test('a rotation due while batches are handed over waits for them, then the loop hands over into the new segment', async () => {
    const writes: WalWrite[] = [];
    const storage = new SimulatedStorage();
    // ~37 bytes per commit: 600 fill a 16 KiB segment and some, 200 more fit in the next.
    const db = await openOn(recordingStorage(storage, writes, { slowWrites: () => undefined }), syncMethod, 16 * 1024);
    writes.length = 0;
    const commits = commitWithoutYielding(db, 0, 600);
    await db.flush(); // the flush loop waits for the hand-overs, rotates, writes the rest
    commits.push(...commitWithoutYielding(db, commits.length, 200));
    const segmentsHandedTo = new Set(writes.filter((write) => write.how === 'queued').map((write) => write.path));
    expect(segmentsHandedTo.size).toBeGreaterThanOrEqual(2);
    await expectAllDurable(db, storage, writes, commits, commits.length, syncMethod);
  });

  test('a failed handed-over write fails its batch and every later one; earlier ones stay', async () => {
    // A first run finds the I/O call of the third handed-over write, a second fails it.
    const findCall = async (): Promise<number> => {
      const storage = new SimulatedStorage();
      const db = await openOn(storage, syncMethod);
      const writeCalls: number[] = [];
      storage.onCall = (call) => {
        if (call.op === 'write' && call.path.includes('/wal/')) writeCalls.push(call.index);
      };
      commitWithoutYielding(db, 0, 300);
      await db.flush();
      await db.close();
      return writeCalls[2];
    };
    const failingCall = await findCall();
    const storage = new SimulatedStorage();
    storage.failAt(failingCall, 'EIO');
    const db = await openOn(storage, syncMethod);
    const commits = commitWithoutYielding(db, 0, 300);
    const outcomes = await Promise.allSettled(commits.map((commit) => commit.durable));
    const firstRejected = outcomes.findIndex((outcome) => outcome.status === 'rejected');
    expect(firstRejected).toBeGreaterThan(10); // two batches made it
    expect(outcomes.slice(0, firstRejected).every((outcome) => outcome.status === 'fulfilled')).toBe(true);
    for (const outcome of outcomes.slice(firstRejected)) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'IO_FAILED' });
    }
    expect(() => db.transact((tx) => tx.create())).toThrow(EcsdbError);
    await db.close().catch(() => undefined);
    const reopened = await openOn(storage, syncMethod);
    const recovered = xs(reopened);
    expect(recovered.length).toBeGreaterThanOrEqual(firstRejected);
    expect(recovered).toEqual(Array.from({ length: recovered.length }, (_, i) => i));
    await reopened.close();
  });
});
