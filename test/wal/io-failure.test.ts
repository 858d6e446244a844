/**
 * ENOSPC and EIO injected at every I/O call a small WAL workload makes after open(): the commits
 * whose batch failed are rejected with IO_FAILED, the database refuses every later write, the
 * failed call is never retried, and reopening what survives recovers a prefix of the workload
 * that holds every acknowledged commit.
 *
 * Which surviving state to reopen: after an injected error the process is still alive, so the
 * files are what the page cache holds: reopening the same storage after close() (its current
 * bytes, as `clone()` copies them) is what a restart without power loss sees, torn records from
 * short writes included. But after a failed fsync nobody knows which dirty pages the kernel kept,
 * and power can still fail later, so the disk may hold anything from only the synced bytes
 * (`crash({ tear: 'none' })`) to every written byte (`crash({ tear: 'all' })`, which still drops
 * unsynced directory entries). No single one of these is "the" right state: all three must
 * recover, so the test reopens all three.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { EcsdbError, open, type Database, type SyncMethod } from '../../src/index.js';
import { SimulatedStorage, type InjectedErrorCode, type StorageCallInfo } from '../../src/storage/simulated-storage.js';
import { settle } from '../helpers/db-dir.js';
import { WORKLOAD_COMPONENTS, dumpDatabase, modelDumps, workloadStep } from '../helpers/workload.js';

const DIR = '/data/db';
const WAL_DIR = `${DIR}/wal`;
const SEED = 41;
const COMMITS = 40;
/** Small segments and batches: the workload rotates and flushes by size, not by timer. */
const walOf = (syncMethod: SyncMethod) => ({ segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 600, syncMethod });
/**
 * Every test runs under both ways of making a WAL batch durable (wal.syncMethod): write +
 * fdatasync, where the fsync is the durable point, and O_DSYNC, where the write is.
 */
let WAL = walOf('fdatasync');
const SYNC_METHODS: readonly SyncMethod[] = ['fdatasync', 'dsync'];
/** The call that makes a WAL batch durable under the method in force. */
const isDurablePoint = (call: StorageCallInfo): boolean => isWal(call) && call.op === (WAL.syncMethod === 'dsync' ? 'write' : 'sync');

interface Failure {
  readonly index: number;
  readonly code: InjectedErrorCode;
  readonly appliedBytes?: number;
}

interface CommitOutcome {
  readonly lsn: number;
  state: 'pending' | 'durable' | 'rejected';
}

interface Run {
  readonly calls: StorageCallInfo[];
  /** I/O calls made by open(). */
  readonly openCallCount: number;
  readonly outcomes: CommitOutcome[];
  /** Errors thrown by transact, durable rejections and close(). */
  readonly errors: unknown[];
  /** Whether a transact was attempted after a failure had been reported, and each one threw. */
  readonly transactsAfterFailure: { attempted: number; threw: number };
  readonly lastLsn: number;
  /** close() rejected (a failure after the last batch: trimming the segment's preallocated zeros). */
  readonly closeFailed: boolean;
}

/**
 * A fixed clock: the writer adds a time record whenever the clock moves to a new millisecond,
 * so with the real clock the record sizes, and with them segment rotation and the I/O call
 * sequence, would differ between the reference run and the failing run.
 */
const now = (): number => 1_700_000_000_000;

const isWal = (call: StorageCallInfo): boolean => call.path.startsWith(`${WAL_DIR}/`) || call.path === WAL_DIR;

/**
 * Whether call `index` is close()'s trim of the last segment: its truncate, or the sync right
 * after it, with no segment created later (a trim at rotation precedes the next segment's creation).
 */
function isCloseTrim(calls: readonly StorageCallInfo[], index: number): boolean {
  const call = calls[index];
  const truncate = call.op === 'truncate' ? index : call.op === 'sync' && calls[index - 1]?.op === 'truncate' && calls[index - 1].path === call.path ? index - 1 : -1;
  if (truncate < 0 || !isWal(call)) return false;
  return !calls.slice(index + 1).some((later) => later.op === 'open' && later.path.endsWith('.wal') && later.path !== call.path);
}

async function runWorkload(storage: SimulatedStorage, failure?: Failure): Promise<Run> {
  const calls: StorageCallInfo[] = [];
  storage.onCall = (info) => calls.push(info);
  if (failure !== undefined) storage.failAt(failure.index, failure.code, { appliedBytes: failure.appliedBytes });
  const db: Database = await open({ dir: DIR, storage, components: WORKLOAD_COMPONENTS, wal: WAL, now });
  const openCallCount = calls.length;
  const outcomes: CommitOutcome[] = [];
  const errors: unknown[] = [];
  const transactsAfterFailure = { attempted: 0, threw: 0 };
  let failureReported = false;
  let transactThrew = false;
  for (let index = 0; index < COMMITS; index++) {
    const attemptAfterFailure = failureReported || transactThrew;
    if (attemptAfterFailure) transactsAfterFailure.attempted++;
    try {
      const commit = db.transact((tx) => workloadStep(tx, SEED, index), { durability: index % 6 === 5 ? 'strict' : 'buffered' });
      if (commit.lsn > (outcomes.at(-1)?.lsn ?? 0)) {
        const outcome: CommitOutcome = { lsn: commit.lsn, state: 'pending' };
        outcomes.push(outcome);
        commit.durable.then(
          () => (outcome.state = 'durable'),
          (error: unknown) => {
            outcome.state = 'rejected';
            errors.push(error);
            failureReported = true;
          },
        );
      }
    } catch (error) {
      errors.push(error);
      transactThrew = true;
      if (attemptAfterFailure) transactsAfterFailure.threw++;
    }
    if (index % 3 === 0) await settle(1);
  }
  const lastLsn = db.lsn;
  let closeFailed = false;
  await db.close().catch((error: unknown) => {
    errors.push(error);
    closeFailed = true;
  });
  await settle();
  storage.onCall = undefined;
  return { calls, openCallCount, outcomes, errors, transactsAfterFailure, lastLsn, closeFailed };
}

async function expectRecovers(survivor: SimulatedStorage, run: Run, model: unknown[][], label: string): Promise<void> {
  const acknowledged = run.outcomes.filter((outcome) => outcome.state === 'durable').at(-1)?.lsn ?? 0;
  const db = await open({ dir: DIR, storage: survivor, components: WORKLOAD_COMPONENTS, wal: WAL, now });
  try {
    expect(db.lsn, `${label}: an acknowledged commit was lost`).toBeGreaterThanOrEqual(acknowledged);
    expect(db.lsn, `${label}: recovered more than was committed`).toBeLessThanOrEqual(run.lastLsn);
    expect(dumpDatabase(db), `${label}: the world is not the model at LSN ${db.lsn}`).toEqual(model[db.lsn]);
    // Reopened, the directory takes writes again (a leftover empty segment must not block them).
    await db.transact((tx) => tx.create(), { durability: 'strict' }).durable;
  } finally {
    await db.close();
  }
}

describe.each(SYNC_METHODS)('wal.syncMethod %s', (syncMethod) => {
beforeAll(() => {
  WAL = walOf(syncMethod);
});

describe('I/O failures after open', () => {
  test('a dry run of the workload rotates segments and flushes several batches', async () => {
    const run = await runWorkload(new SimulatedStorage({ seed: SEED }));
    expect(run.errors).toEqual([]);
    expect(run.outcomes.every((outcome) => outcome.state === 'durable')).toBe(true);
    const segmentCreations = run.calls.filter((call) => call.op === 'open' && call.path.endsWith('.wal')).length;
    expect(segmentCreations).toBeGreaterThanOrEqual(2);
    expect(run.calls.filter(isDurablePoint).length).toBeGreaterThanOrEqual(6);
  });

  const failures: [string, InjectedErrorCode, number | undefined][] = [
    ['EIO', 'EIO', undefined],
    ['ENOSPC', 'ENOSPC', undefined],
    ['ENOSPC after a short write of 7 bytes', 'ENOSPC', 7],
  ];

  test.each(failures)('%s at each I/O call: IO_FAILED, writes refused, nothing acknowledged lost', async (_name, code, appliedBytes) => {
    const model = await modelDumps(open, SEED, COMMITS);
    const dry = await runWorkload(new SimulatedStorage({ seed: SEED }));
    let surfaced = 0;
    let closeTrims = 0;
    let refusedTransacts = 0;
    for (let index = dry.openCallCount; index < dry.calls.length; index++) {
      const call = dry.calls[index];
      const label = `${code}${appliedBytes === undefined ? '' : ` (${appliedBytes} bytes applied)`} at call ${index} (${call.op} ${call.path})`;
      const storage = new SimulatedStorage({ seed: SEED });
      const run = await runWorkload(storage, { index, code, appliedBytes });
      expect(run.calls[index], `${label}: the failing run diverged before the failure`).toEqual(call);

      // Every error is a typed IO_FAILED.
      for (const error of run.errors) {
        expect(error, label).toBeInstanceOf(EcsdbError);
        expect((error as EcsdbError).code, label).toBe('IO_FAILED');
      }
      // Every commit settled, and the durable ones are a prefix: a rejected batch is never
      // followed by a commit acknowledged after it.
      const states = run.outcomes.map((outcome) => outcome.state);
      expect(states, label).not.toContain('pending');
      expect(states.indexOf('durable', states.indexOf('rejected') === -1 ? states.length : states.indexOf('rejected')), label).toBe(-1);
      // Once a failure was reported, the database refused every write.
      expect(run.transactsAfterFailure.threw, label).toBe(run.transactsAfterFailure.attempted);
      refusedTransacts += run.transactsAfterFailure.threw;

      const walDataCall = isWal(call) && ['write', 'sync', 'open', 'syncDirectory', 'truncate'].includes(call.op);
      if (walDataCall) {
        surfaced++;
        if (isCloseTrim(dry.calls, index)) {
          closeTrims++;
          // close() trimming the segment's preallocated zeros, after the last batch: no commit
          // is left to reject, close() reports it.
          expect(run.closeFailed, `${label}: close() did not report the failed trim`).toBe(true);
        } else {
          expect(states, `${label}: no commit of the failed batch was rejected`).toContain('rejected');
        }
        // No write or fsync is retried (or attempted) on the WAL after the failure.
        const later = run.calls.slice(index + 1).filter((later) => isWal(later) && (later.op === 'write' || later.op === 'sync'));
        expect(later, label).toEqual([]);
      }

      await expectRecovers(storage.clone(), run, model, `${label}, same storage after close`);
      await expectRecovers(storage.clone().crash({ tear: 'none' }), run, model, `${label}, power loss keeping synced bytes`);
      await expectRecovers(storage.clone().crash({ tear: 'all' }), run, model, `${label}, power loss keeping written bytes`);
    }
    expect(surfaced, 'the loop must hit WAL writes and fsyncs').toBeGreaterThanOrEqual(10);
    expect(closeTrims, "the loop must hit close()'s truncate and its sync").toBe(2);
    expect(refusedTransacts, 'the loop must try writes after failures').toBeGreaterThan(10);
  });
});

// With O_DSYNC the write is the fsync: its failure is the one that must latch.
describe('after a failed fsync (O_DSYNC: a failed durable write)', () => {
  async function failFirstWalSync(code: InjectedErrorCode): Promise<{ storage: SimulatedStorage; db: Database; calls: StorageCallInfo[]; failedAt: number }> {
    const storage = new SimulatedStorage();
    const db = await open({ dir: DIR, storage, components: WORKLOAD_COMPONENTS, durability: 'strict', wal: WAL });
    await db.transact((tx) => workloadStep(tx, SEED, 0)).durable; // the segment exists
    const calls: StorageCallInfo[] = [];
    storage.onCall = (info) => calls.push(info);
    // The failing commit's first I/O call is its batch's write; under fdatasync the sync follows.
    if (WAL.syncMethod === 'dsync') storage.failAt(storage.ioCount, code);
    else storage.failNextSync(code);
    const failing = db.transact((tx) => workloadStep(tx, SEED, 1));
    await expect(failing.durable).rejects.toMatchObject({ code: 'IO_FAILED' });
    const failedAt = calls.findIndex(isDurablePoint);
    expect(failedAt).toBeGreaterThanOrEqual(0);
    return { storage, db, calls, failedAt };
  }

  test.each<InjectedErrorCode>(['EIO', 'ENOSPC'])('%s: the fsync is never retried, by flush, commits or close', async (code) => {
    const { db, calls, failedAt } = await failFirstWalSync(code);
    for (let index = 2; index < 10; index++) {
      expect(() => db.transact((tx) => workloadStep(tx, SEED, index), { durability: 'strict' })).toThrow(expect.objectContaining({ code: 'IO_FAILED' }));
    }
    await expect(db.flush()).rejects.toMatchObject({ code: 'IO_FAILED' });
    await expect(db.close()).rejects.toMatchObject({ code: 'IO_FAILED' });
    await settle();
    expect(calls.slice(failedAt + 1).filter((call) => call.op === 'sync')).toEqual([]);
    expect(calls.slice(failedAt + 1).filter((call) => call.op === 'write')).toEqual([]);
  });

  test('the refusal is IO_FAILED naming the cause and the last durable LSN', async () => {
    const { db } = await failFirstWalSync('EIO');
    const error = (() => {
      try {
        db.transact((tx) => tx.create());
      } catch (caught) {
        return caught as EcsdbError;
      }
    })();
    expect(error).toBeInstanceOf(EcsdbError);
    expect(error!.code).toBe('IO_FAILED');
    expect(error!.message).toContain('EIO');
    expect(error!.message).toContain(`after LSN ${db.durableLsn}`);
    await db.close().catch(() => undefined);
  });

  test('close() after the failure still releases the lock, so the directory reopens', async () => {
    const { storage, db } = await failFirstWalSync('EIO');
    await db.close().catch(() => undefined);
    const reopened = await open({ dir: DIR, storage, components: WORKLOAD_COMPONENTS, wal: WAL });
    expect(reopened.lsn).toBeGreaterThanOrEqual(1);
    await reopened.transact((tx) => tx.create(), { durability: 'strict' }).durable;
    await reopened.close();
  });
});
});
