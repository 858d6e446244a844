/**
 * Simulated process crash and power loss after every I/O call. A seeded mixed workload runs over SimulatedStorage
 * with small segments (several rotations) and a power loss at call k, for every k the workload
 * makes (opening and creating the database included). Each surviving state, with unsynced bytes
 * dropped, kept, or torn at random, must open, hold every acknowledged commit, and equal the
 * in-memory model at exactly its recovered LSN (so no transaction is ever partly visible).
 *
 * Size: ECSDB_CRASH_WORKLOAD_COMMITS commits per workload (default 300).
 */
import { describe, expect, test } from 'vitest';
import { open, type Durability } from '../../src/index.js';
import { SimulatedStorage, type CrashOptions } from '../../src/storage/simulated-storage.js';
import { WORKLOAD_COMPONENTS, dumpDatabase, modelDumps, workloadStep } from '../helpers/workload.js';
import { reportFamily } from '../helpers/proof-summary.js';

const COMMITS = Number(process.env.ECSDB_CRASH_WORKLOAD_COMMITS ?? 300);
const DIR = '/data/db';
const WAL_OPTIONS = { segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 400 };

type Mode = Durability | 'mixed';

/** Runs the workload until it ends or the storage crashes; returns the highest acknowledged LSN. */
async function runWorkload(storage: SimulatedStorage, seed: number, mode: Mode): Promise<number> {
  let acknowledged = 0;
  try {
    const db = await open({ dir: DIR, storage, components: WORKLOAD_COMPONENTS, durability: mode === 'strict' ? 'strict' : 'buffered', wal: WAL_OPTIONS });
    for (let index = 0; index < COMMITS; index++) {
      const strict = mode === 'strict' || (mode === 'mixed' && index % 7 === 3);
      const commit = db.transact((tx) => workloadStep(tx, seed, index), { durability: strict ? 'strict' : 'buffered' });
      const lsn = commit.lsn;
      commit.durable.then(
        () => (acknowledged = Math.max(acknowledged, lsn)),
        () => undefined,
      );
      if ((index * 7) % 5 < 2) await new Promise((resolve) => setImmediate(resolve));
    }
    await db.close();
  } catch (error) {
    if (!storage.crashed) throw error;
  }
  // Let acknowledgements already settled in microtasks land.
  await new Promise((resolve) => setImmediate(resolve));
  return acknowledged;
}

async function checkSurvivor(survivor: SimulatedStorage, acknowledged: number, model: unknown[][], label: string): Promise<void> {
  const db = await open({ dir: DIR, storage: survivor, components: WORKLOAD_COMPONENTS, wal: WAL_OPTIONS });
  try {
    const recovered = db.lsn;
    expect(recovered, `${label}: acknowledged LSN ${acknowledged} lost`).toBeGreaterThanOrEqual(acknowledged);
    expect(recovered, `${label}: recovered past the workload`).toBeLessThan(model.length);
    expect(dumpDatabase(db), `${label}: world differs from the model at LSN ${recovered}`).toEqual(model[recovered]);
    // The recovered database accepts new commits.
    await db.transact((tx) => tx.create(), { durability: 'strict' }).durable;
  } finally {
    await db.close();
  }
}

describe.each<[Mode, number]>([
  ['strict', 11],
  ['buffered', 12],
  ['mixed', 13],
])('power loss after every I/O call, %s mode', (mode, seed) => {
  test(`every crash state of a ${COMMITS}-commit workload opens to an acknowledged, whole-transaction prefix`, async () => {
    const model = await modelDumps(open, seed, COMMITS);
    const dry = new SimulatedStorage({ seed });
    const complete = await runWorkload(dry, seed, mode);
    expect(complete).toBe(model.length - 1);
    const segments = (await dry.list(`${DIR}/wal`)).length;
    expect(segments, 'the workload must rotate segments').toBeGreaterThanOrEqual(3);
    const callCount = dry.ioCount;
    const tears: CrashOptions[] = [{ tear: 'none' }, { tear: 'all' }, { tear: 'random', seed: 1 }, { tear: 'random', seed: 2 }];
    for (let k = 0; k < callCount; k++) {
      const storage = new SimulatedStorage({ seed });
      storage.crashAt(k);
      const acknowledged = await runWorkload(storage, seed, mode);
      // A process crash (SIGKILL) keeps everything the process did, synced or not.
      await checkSurvivor(storage.clone(), acknowledged, model, `seed ${seed}, mode ${mode}, process crash at call ${k}/${callCount}`);
      for (const tear of tears) {
        const label = `seed ${seed}, mode ${mode}, power loss at call ${k}/${callCount}, tear ${tear.tear}${tear.seed ?? ''}`;
        await checkSurvivor(storage.crash(tear), acknowledged, model, label);
      }
    }
    reportFamily('crash states', { states: callCount * (tears.length + 1), 'acknowledged lost': 0, 'partial visible': 0, unopenable: 0 });
    console.log(`crash states (${mode}): ${callCount * (tears.length + 1)} over ${callCount} I/O calls, ${segments} segments; acknowledged lost: 0, partial visible: 0, unopenable: 0`);
  });
});

test('memory mode performs no I/O at all', async () => {
  const storage = new SimulatedStorage();
  const db = await open({ storage, components: WORKLOAD_COMPONENTS, durability: 'memory' });
  for (let index = 0; index < 50; index++) await db.transact((tx) => workloadStep(tx, 5, index)).durable;
  await db.close();
  expect(storage.ioCount).toBe(0);
});
