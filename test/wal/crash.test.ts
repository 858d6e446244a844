/**
 * Simulated process crash and power loss at every I/O call of a mixed workload with small
 * segments (several rotations), opening and creating the database included, in each durability
 * mode. Each distinct surviving state (the process-crash image, and power-loss images with
 * unsynced bytes dropped, kept, torn at random, or reaching the disk in a different order per
 * file and directory) must open, hold every acknowledged commit, equal the in-memory model at
 * exactly its recovered LSN (so no transaction is ever partly visible), and continue the
 * workload. See test/helpers/crash-harness.ts for the checks and how to replay one state.
 *
 * Size: ECSDB_CRASH_WORKLOAD_COMMITS commits per workload (default 300).
 */
import { describe, expect, test } from 'vitest';
import { open, type Durability } from '../../src/index.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { WORKLOAD_COMPONENTS, workloadStep } from '../helpers/workload.js';
import { checkEveryCrashState, namesIn, runWorkload, workloadModel, lastLsnOf, type CrashWorkload } from '../helpers/crash-harness.js';

const COMMITS = Number(process.env.ECSDB_CRASH_WORKLOAD_COMMITS ?? 300);
const WAL_OPTIONS = { syncMethod: 'fdatasync' as const, segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 400 };

type Mode = Exclude<Durability, 'memory'> | 'mixed';

function walWorkload(mode: Mode, seed: number): CrashWorkload {
  return {
    id: `wal-${mode}-s${seed}`,
    commits: COMMITS,
    step: (tx, index) => workloadStep(tx, seed, index),
    options: { durability: mode === 'strict' ? 'strict' : 'buffered', wal: WAL_OPTIONS },
    strict: (index) => mode === 'strict' || (mode === 'mixed' && index % 7 === 3),
    yieldAfter: (index) => (index * 7) % 5 < 2,
  };
}

describe.each<[Mode, number]>([
  ['strict', 11],
  ['buffered', 12],
  ['mixed', 13],
])('power loss after every I/O call, %s mode', (mode, seed) => {
  test(`every crash state of a ${COMMITS}-commit workload opens to an acknowledged, whole-transaction prefix`, async () => {
    const workload = walWorkload(mode, seed);
    const model = await workloadModel(workload);
    const dry = new SimulatedStorage({ seed });
    const progress = { acknowledged: 0, published: 0 };
    await runWorkload(workload, dry, progress);
    expect(progress.acknowledged, 'the whole workload was acknowledged').toBe(lastLsnOf(model, COMMITS));
    const segments = (await namesIn(dry, 'wal')).length;
    expect(segments, 'the workload must rotate segments').toBeGreaterThanOrEqual(3);
    const { tally, callCount } = await checkEveryCrashState(workload, model);
    console.log(`crash states (${workload.id}): ${tally.states} distinct over ${callCount} I/O calls, ${segments} segments`);
    tally.report('crash states');
  });
});

test('memory mode performs no I/O at all', async () => {
  const storage = new SimulatedStorage();
  const db = await open({ storage, components: WORKLOAD_COMPONENTS, durability: 'memory' });
  for (let index = 0; index < 50; index++) await db.transact((tx) => workloadStep(tx, 5, index)).durable;
  await db.close();
  expect(storage.ioCount).toBe(0);
});
