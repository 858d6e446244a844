import { expect, test } from 'vitest';
import { open } from '../../src/index.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { WORKLOAD_COMPONENTS, dumpDatabase, modelDumps, workloadStep } from '../helpers/workload.js';

test('reopen loads the newest snapshot and replays only the WAL after it', async () => {
  const storage = new SimulatedStorage();
  const options = { dir: '/db', storage, components: WORKLOAD_COMPONENTS, snapshot: { chunkSlots: 256 }, wal: { segmentSizeBytesMax: 4096 } };
  const model = await modelDumps(open, 3, 400);
  const db = await open(options);
  for (let i = 0; i < 300; i++) {
    db.transact((tx) => workloadStep(tx, 3, i));
    if (i % 20 === 0) await db.flush();
  }
  const first = db.snapshot();
  for (let i = 300; i < 350; i++) db.transact((tx) => workloadStep(tx, 3, i));
  const entry = await first;
  expect(entry.startLsn).toBeGreaterThan(0);
  expect(entry.endLsn).toBeGreaterThanOrEqual(entry.startLsn);
  for (let i = 350; i < 400; i++) db.transact((tx) => workloadStep(tx, 3, i));
  const lsn = db.lsn;
  await db.close();
  const archived = await storage.list('/db/archive');
  expect(archived.length).toBeGreaterThan(0);
  const reopened = await open(options);
  expect(reopened.recovery!.snapshot?.file).toBe(entry.file);
  expect(reopened.recovery!.wal.recordsReplayed).toBe(lsn - entry.startLsn);
  expect(reopened.lsn).toBe(lsn);
  expect(dumpDatabase(reopened)).toEqual(model[lsn]);
  await reopened.close();
});
