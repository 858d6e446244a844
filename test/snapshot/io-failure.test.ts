/**
 * ENOSPC and EIO injected at every I/O call of one db.snapshot() (chunks, the WAL flush through
 * E, header, fsync, rename, directory fsync, manifest, deletion of the oldest snapshot, archival
 * with compression, pruning), while commits go on. The snapshot is rejected; the next
 * db.snapshot() on the same database succeeds (unless the failure hit the WAL, which then
 * refuses writes with IO_FAILED until reopened); nothing acknowledged is lost; and reopening the
 * directory as the process left it recovers the model, never through a damaged snapshot.
 *
 * The rejection must be a typed EcsdbError (STYLE.md: environment failures throw the one error
 * class); it is not today, which 'an injected ENOSPC rejects db.snapshot() with IO_FAILED' pins.
 */
import { describe, expect, test } from 'vitest';
import { EcsdbError, open, type Database } from '../../src/index.js';
import { SimulatedStorage, type InjectedErrorCode } from '../../src/storage/simulated-storage.js';
import { WORKLOAD_COMPONENTS, dumpDatabase } from '../helpers/workload.js';
import { HERMETIC, MANUAL_SNAPSHOTS, bulkThenWorkload, expectTyped, modelDumpsOf, rejectionOf } from '../helpers/snapshot-dir.js';
import { reportFamily } from '../helpers/proof-summary.js';

const DIR = '/data/db';
const SEED = 17;
const STEP = bulkThenWorkload(SEED, 300);
const OPTIONS = {
  ...HERMETIC,
  dir: DIR,
  components: WORKLOAD_COMPONENTS,
  wal: { segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 1 << 20 },
  snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: 256, keep: 2 },
  archive: { compress: true, segmentCountMax: 2 },
};
/** Commits before the two setup snapshots and before the one under test; 10 go on during it, 1 after. */
const PHASES = [60, 60, 60];
const COMMITS = PHASES.reduce((a, b) => a + b, 0) + 11;

interface Run {
  /** Call indexes [from, to) made by the snapshot under test. */
  readonly snapshotCalls: readonly [number, number];
  readonly snapshotError: unknown;
  /** The next db.snapshot() after the one under test: its end LSN, or what it threw. */
  readonly retry: { endLsn: number } | { error: unknown };
  /** Whether transact() refused a commit (the WAL failed and latched). */
  readonly refusedCommits: boolean;
  readonly acknowledged: number;
}

/** Two setup snapshots, then a third (the one under test) while ten more commits go on. */
async function runWorkload(storage: SimulatedStorage, failure?: { index: number; code: InjectedErrorCode }): Promise<Run> {
  const db: Database = await open({ ...OPTIONS, storage });
  let index = 0;
  let acknowledged = 0;
  let refusedCommits = false;
  const commit = () => {
    try {
      const { lsn, durable } = db.transact((tx) => STEP(tx, index));
      index++;
      durable.then(
        () => (acknowledged = Math.max(acknowledged, lsn)),
        () => undefined,
      );
    } catch (error) {
      // After a failed WAL write the database refuses commits: that is the contract.
      expectTyped(error, 'IO_FAILED');
      refusedCommits = true;
    }
  };
  for (const [phase, count] of PHASES.entries()) {
    for (let i = 0; i < count; i++) commit();
    await db.flush();
    if (phase < 2) await db.snapshot();
  }
  if (failure !== undefined) storage.failAt(failure.index, failure.code);
  const from = storage.ioCount;
  let snapshotError: unknown;
  let done = false;
  const snapshot = db.snapshot().then(
    () => void (done = true),
    (error: unknown) => {
      snapshotError = error;
      done = true;
    },
  );
  for (let i = 0; i < 10 || !done; i++) {
    if (i < 10) commit();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await snapshot;
  const to = storage.ioCount;
  const retry = await db.snapshot().then(
    (entry) => ({ endLsn: entry.endLsn }),
    (error: unknown) => ({ error }),
  );
  commit();
  await db.close().catch((error: unknown) => expectTyped(error, 'IO_FAILED'));
  return { snapshotCalls: [from, to], snapshotError, retry, refusedCommits, acknowledged };
}

describe.each<InjectedErrorCode>(['ENOSPC', 'EIO'])('%s at every I/O call of a snapshot', (code) => {
  test('fails only that snapshot: the next one works, and nothing acknowledged is lost', async () => {
    const model = await modelDumpsOf(STEP, COMMITS);
    const dryStorage = new SimulatedStorage({ seed: SEED });
    const calls: string[] = [];
    dryStorage.onCall = (info) => void (calls[info.index] = `${info.op} ${info.path}`);
    const dry = await runWorkload(dryStorage);
    expect(dry.snapshotError).toBeUndefined();
    const [from, to] = dry.snapshotCalls;
    // The snapshot under test does everything the header lists.
    const during = calls.slice(from, to);
    for (const pattern of [/^write .*\.snap\..*\.tmp$/, /^rename .*\.snap\..*\.tmp$/, /^rename .*MANIFEST\.tmp$/, /^unlink .*snapshots\/\d+\.snap$/, /^write .*archive\/.*\.deflate\.tmp$/, /^unlink .*\/wal\/\d+\.wal$/, /^unlink .*archive\/.*\.deflate$/]) {
      expect(during.some((call) => pattern.test(call)), `the snapshot makes a call like ${pattern}`).toBe(true);
    }
    let untyped = 0;
    let walFailures = 0;
    for (let k = from; k < to; k++) {
      const storage = new SimulatedStorage({ seed: SEED });
      const run = await runWorkload(storage, { index: k, code });
      const label = `${code} at call ${k} (${k - from} into the snapshot)`;
      expect(run.snapshotError, `${label}: the snapshot did not fail`).toBeDefined();
      if (!(run.snapshotError instanceof EcsdbError)) untyped++;
      if ('error' in run.retry) {
        // Only a failed WAL write may stop later snapshots: then the database refuses writes.
        expectTyped(run.retry.error, 'IO_FAILED');
        expect(run.refusedCommits, `${label}: the retry failed but commits are still accepted`).toBe(true);
        walFailures++;
      }
      const reopened = await open({ ...OPTIONS, storage: storage.clone() });
      try {
        expect(reopened.lsn, `${label}: acknowledged LSN ${run.acknowledged} lost`).toBeGreaterThanOrEqual(run.acknowledged);
        expect(dumpDatabase(reopened), `${label}: world differs from the model`).toEqual(model[reopened.lsn]);
        expect(reopened.recovery!.skippedSnapshots, `${label}: a failed snapshot left a damaged one in the manifest`).toEqual([]);
        if ('endLsn' in run.retry) expect(reopened.recovery!.snapshot?.endLsn, `${label}: the retried snapshot`).toBe(run.retry.endLsn);
      } finally {
        await reopened.close();
      }
    }
    reportFamily('I/O failures injected', { calls: to - from, 'untyped rejections': untyped, 'acknowledged lost': 0 });
    console.log(`snapshot I/O failures (${code}): ${to - from} calls, ${walFailures} in the WAL flush; rejections that were not EcsdbError: ${untyped}`);
  });
});

// Bug: nothing on the snapshot path turns storage errors into EcsdbError. Snapshotter#run
// (src/snapshot/snapshotter.ts) and Database#snapshot (src/db/database.ts) let the raw
// Node-style error (code ENOSPC, EIO, ...) through, unlike open() (io() in open-persistent.ts)
// and the WAL writer, which wrap them as IO_FAILED.
test('an injected ENOSPC rejects db.snapshot() with IO_FAILED', async () => {
  const storage = new SimulatedStorage();
  const db = await open({ ...OPTIONS, storage });
  try {
    db.transact((tx) => STEP(tx, 0));
    await db.flush();
    storage.onCall = (info) => {
      if (info.op === 'write' && info.path.endsWith('.tmp')) storage.failAt(info.index, 'ENOSPC');
    };
    const error = await rejectionOf(db.snapshot());
    storage.onCall = undefined;
    expectTyped(error, 'IO_FAILED', 'ENOSPC');
  } finally {
    storage.onCall = undefined;
    await db.close();
  }
});
