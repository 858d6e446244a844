/**
 * Recovery after a process crash builds only on durable state. A process killed between a
 * write and its fsync, or between a rename and the directory's fsync, leaves bytes and names in
 * the page cache only: recovery reads them, so it must make them durable before the recovered
 * database reports them durable or acknowledges anything that depends on them. Each test
 * crashes the first process at one precise I/O call (process-crash image: everything written,
 * synced or not), recovers, then loses power (only synced bytes and names survive).
 *
 * Regression tests for a bug the crash-during-recovery proof (test/proof/) found: a segment
 * whose name the crashed process never synced was continued by the recovered database, which
 * acknowledged strict commits in it; a power loss then removed the segment with those commits.
 */
import { describe, expect, test } from 'vitest';
import { open } from '../../src/index.js';
import { SimulatedStorage, type StorageCallInfo } from '../../src/storage/simulated-storage.js';
import { HERMETIC } from '../helpers/snapshot-dir.js';
import { WORKLOAD_COMPONENTS, workloadStep } from '../helpers/workload.js';

const DIR = '/data/db';
const OPTIONS = { ...HERMETIC, dir: DIR, components: WORKLOAD_COMPONENTS, wal: { segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 1 << 20 } };

/** Every I/O call of opening and making `commits` strict commits, in order. */
async function callsOf(commits: number): Promise<StorageCallInfo[]> {
  const storage = new SimulatedStorage();
  const calls: StorageCallInfo[] = [];
  storage.onCall = (call) => void calls.push(call);
  await writeCommits(storage, commits);
  return calls;
}

/** The index of the first such call that `matches`. */
async function firstCall(commits: number, matches: (call: StorageCallInfo) => boolean): Promise<number> {
  const call = (await callsOf(commits)).find(matches);
  expect(call, 'the workload makes the call').toBeDefined();
  return call!.index;
}

/** Opens and makes `commits` workload commits, each awaited strictly, until done or crashed. */
async function writeCommits(storage: SimulatedStorage, commits: number): Promise<void> {
  try {
    const db = await open({ ...OPTIONS, storage });
    for (let index = 0; index < commits; index++) await db.transact((tx) => workloadStep(tx, 7, index), { durability: 'strict' }).durable;
    await db.close();
  } catch (error) {
    if (!storage.crashed) throw error;
  }
}

/** The process-crash image of a run of `commits` strict commits killed at call `k`. */
async function killedAt(k: number, commits: number): Promise<SimulatedStorage> {
  const storage = new SimulatedStorage();
  storage.crashAt(k);
  await writeCommits(storage, commits);
  return storage.clone();
}

describe('recovery after a process crash makes what it builds on durable', () => {
  test('a segment whose name the crashed process never synced keeps the commits the recovered database acknowledges in it', async () => {
    // Killed after the first segment's header was fsynced, before the directory fsync.
    const k = await firstCall(3, (call) => call.op === 'syncDirectory' && call.path.endsWith('/wal'));
    const killed = await killedAt(k, 3);
    const db = await open({ ...OPTIONS, storage: killed });
    const commit = db.transact((tx) => workloadStep(tx, 7, 0), { durability: 'strict' });
    await commit.durable;
    const survivor = killed.crash({ tear: 'none' });
    const reopened = await open({ ...OPTIONS, storage: survivor });
    expect(reopened.lsn, 'the acknowledged commit survived the power loss').toBeGreaterThanOrEqual(commit.lsn);
    await reopened.close();
  });

  test('replayed records the crashed process never fsynced are durable once open() returns', async () => {
    // Killed after the second commit's write, before its fsync: its bytes are in the page cache.
    const writes = (await callsOf(2)).filter((call) => call.op === 'write' && call.path.includes('/wal/'));
    const k = writes[writes.length - 1].index + 1;
    const killed = await killedAt(k, 2);
    const db = await open({ ...OPTIONS, storage: killed });
    expect(db.lsn, 'the unsynced record was replayed').toBe(2);
    expect(db.durableLsn, 'and is reported durable').toBe(2);
    const survivor = killed.crash({ tear: 'none' });
    const reopened = await open({ ...OPTIONS, storage: survivor });
    expect(reopened.lsn, 'what open() reported durable survived the power loss').toBe(2);
    await reopened.close();
  });

  test('a meta file whose name the crashed process never synced survives once the recovered database writes its WAL', async () => {
    // Killed after ecsdb.meta was renamed into place, before the directory fsync.
    const k = await firstCall(1, (call) => call.op === 'syncDirectory' && call.path === DIR);
    const killed = await killedAt(k, 1);
    const db = await open({ ...OPTIONS, storage: killed });
    const commit = db.transact((tx) => workloadStep(tx, 7, 0), { durability: 'strict' });
    await commit.durable;
    const reopened = await open({ ...OPTIONS, storage: killed.crash({ tear: 'none' }) });
    expect(reopened.lsn).toBe(commit.lsn);
    await reopened.close();
  });
});
