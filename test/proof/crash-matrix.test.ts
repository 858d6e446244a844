/**
 * More crash states than test/wal/crash.test.ts and test/snapshot/crash.test.ts, from workloads
 * they do not run: big buffered batches (many torn lengths), closes and reopens in the middle
 * (a crash while opening a directory with data, and a lock to release or take over), chains of
 * incremental snapshots with compressed sections and keep 1, automatic snapshots by commit count
 * racing strict commits, archive pruning by bytes and by count, and an incremental chain broken
 * by a reopen. Each crash point yields more images than the other crash tests: unsynced bytes
 * torn at four seeded points, and reaching the disk in six seeded orders per file and directory
 * (tear 'reorder').
 *
 * Every distinct state passes the checks of test/helpers/crash-harness.ts; failures name the
 * state, and ECSDB_TEST_CRASH_REPLAY=<state> checks it alone.
 *
 * The workloads are in ./workloads.ts. Size: ECSDB_CRASH_MATRIX_COMMITS commits per workload
 * (default 200).
 */
import { describe, expect, test } from 'vitest';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { checkEveryCrashState, manyImages, namesIn, runWorkload, workloadModel, lastLsnOf, type RunRecord } from '../helpers/crash-harness.js';
import { MATRIX_COMMITS, MATRIX_WORKLOADS } from './workloads.js';

const IMAGES = manyImages(4, 6);

describe.each(MATRIX_WORKLOADS)('crash matrix: $workload.id', ({ workload, expect: expectations }) => {
  test('every distinct crash state, torn and reordered, opens to an acknowledged whole-transaction prefix', async () => {
    const model = await workloadModel(workload);
    const dry = new SimulatedStorage();
    const archiveOps: string[] = [];
    dry.onCall = (call) => {
      if ((call.targetPath ?? call.path).includes('/archive/')) archiveOps.push(call.op);
    };
    const record: RunRecord = { snapshots: [] };
    const progress = { acknowledged: 0, published: 0 };
    await runWorkload(workload, dry, progress, record);
    expect(progress.acknowledged, 'the whole workload was acknowledged').toBe(lastLsnOf(model, MATRIX_COMMITS));
    const segments = (await namesIn(dry, 'wal')).length;
    const archived = await namesIn(dry, 'archive');
    if (expectations.minSegments !== undefined) expect(segments, 'segments rotated').toBeGreaterThanOrEqual(expectations.minSegments);
    if (expectations.snapshots !== undefined) expect(record.snapshots.length, 'snapshots taken').toBe(expectations.snapshots);
    if (expectations.incremental === true) expect(record.snapshots.some((s) => s.base !== undefined), 'an incremental snapshot').toBe(true);
    if (expectations.archived === true) expect(archiveOps.filter((op) => op === 'rename' || op === 'open'), 'segments archived').not.toEqual([]);
    if (expectations.pruned === true) expect(archiveOps.filter((op) => op === 'unlink'), 'archived segments deleted').not.toEqual([]);
    const { tally, callCount } = await checkEveryCrashState(workload, model, { images: IMAGES, snapshotAfter: workload.options.snapshot !== undefined });
    console.log(`crash states (${workload.id}): ${tally.states} distinct over ${callCount} I/O calls; ${segments} live + ${archived.length} archived segments`);
    tally.report('crash states');
  }, 300_000);
});
