import { expect, test } from 'vitest';
import { defineComponent, open, t } from '../../src/index.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';

const Counter = defineComponent('Counter', { n: t.u32 });

test('flush() resolves for the commits made before it, even while strict commits keep arriving', async () => {
  const db = await open({ dir: '/db', storage: new SimulatedStorage(), components: [Counter], durability: 'buffered' });
  const e = db.transact((tx) => {
    const created = tx.create();
    tx.add(created, Counter, { n: 0 });
    return created;
  }).value;
  let flushed = false;
  const target = db.lsn;
  const flush = db.flush().then(() => (flushed = true));
  // A steady stream of commits, every third strict, yielding so the writer keeps flushing.
  for (let i = 1; !flushed && i < 2000; i++) {
    db.transact((tx) => tx.set(e, Counter, { n: i }), { durability: i % 3 === 0 ? 'strict' : 'buffered' });
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(flushed, 'flush() resolved while commits were still arriving').toBe(true);
  await flush;
  expect(db.durableLsn).toBeGreaterThanOrEqual(target);
  await db.close();
});
