/**
 * A seeded, deterministic mixed workload for persistence tests: every kind of transaction
 * (creates, destroys, adds, sets, removes, strings, entity references, arrays, tags, empty
 * transactions) decided by the transaction's index and the world it sees. Running the same
 * workload against any database from the same start makes exactly the same commits, so a model
 * run in memory tells what any recovered LSN must hold.
 */
import type { Database, Transaction } from '../../src/index.js';
import { createRandom, randomInt, type Random } from '../../src/storage/random.js';
import { AllTypes, Frozen, Health, Name, Position, Target } from './fixtures.js';

export const WORKLOAD_COMPONENTS = [Position, Health, Name, Target, Frozen, AllTypes];

/** One transaction of the workload. Returns true when it should be committed strictly. */
export function workloadStep(tx: Transaction, seed: number, index: number): void {
  const random = createRandom(seed * 1_000_003 + index);
  const alive = tx.query();
  const opCount = 1 + randomInt(random, 6);
  for (let op = 0; op < opCount; op++) {
    const pick = (): number | undefined => (alive.length === 0 ? undefined : alive[randomInt(random, alive.length)]);
    const roll = random();
    if (roll < 0.3 || alive.length < 3) {
      const e = tx.create();
      tx.add(e, Position, { x: random() * 100, y: index, z: op });
      if (random() < 0.5) tx.add(e, Name, { value: `e${index}.${op}${'!'.repeat(randomInt(random, 40))}` });
      if (random() < 0.3) {
        const ref = pick();
        tx.add(e, AllTypes, allTypesValue(random, ref !== undefined && tx.exists(ref) ? ref : undefined));
      }
      alive.push(e);
    } else if (roll < 0.45) {
      const e = pick()!;
      if (tx.exists(e)) tx.destroy(e);
    } else if (roll < 0.75) {
      const e = pick()!;
      if (!tx.exists(e)) continue;
      if (tx.has(e, Position)) tx.set(e, Position, { x: random() * 1000 - 500 });
      else tx.add(e, Position, { y: random() });
    } else if (roll < 0.85) {
      const e = pick()!;
      if (!tx.exists(e)) continue;
      const target = pick()!;
      if (tx.has(e, Target)) tx.remove(e, Target);
      else tx.add(e, Target, { entity: tx.exists(target) ? target : null });
    } else if (roll < 0.93) {
      const e = pick()!;
      if (!tx.exists(e)) continue;
      if (tx.has(e, Frozen)) tx.remove(e, Frozen);
      else tx.add(e, Frozen);
      if (tx.has(e, Health)) tx.set(e, Health, { hp: randomInt(random, 100) });
      else tx.add(e, Health, { hp: -randomInt(random, 100) });
    } else {
      // A read-only operation: some transactions change nothing at all.
      const e = pick()!;
      if (tx.exists(e)) tx.get(e, Position);
    }
  }
}

function allTypesValue(random: Random, ref: number | undefined) {
  return {
    i8: randomInt(random, 256) - 128,
    u32: randomInt(random, 2 ** 32),
    f64: random() * 1e300,
    bool: random() < 0.5,
    string: 'ü€😀'.repeat(randomInt(random, 3)),
    entity: ref ?? null,
    vec3: [random(), -random(), 3],
    bytes: [1, 2, 3, randomInt(random, 256)],
  };
}

/** What dumpDatabase reads: a database or a view of its past. */
export type WorldReader = Pick<Database, 'query' | 'has' | 'get'>;

/** The database's whole logical content, for deep equality. */
export function dumpDatabase(db: WorldReader): unknown[] {
  return db.query().map((entity) => [
    entity,
    ...WORKLOAD_COMPONENTS.map((component) => (db.has(entity, component) ? db.get(entity, component) : null)),
  ]);
}

/** Runs `count` workload transactions in memory and returns the dump after each LSN (index = LSN). */
export async function modelDumps(open: typeof import('../../src/index.js').open, seed: number, count: number): Promise<unknown[][]> {
  const db = await open({ components: WORKLOAD_COMPONENTS, durability: 'memory' });
  const dumps: unknown[][] = [dumpDatabase(db)];
  for (let index = 0; index < count; index++) {
    const commit = db.transact((tx) => workloadStep(tx, seed, index));
    dumps[commit.lsn] = dumpDatabase(db);
  }
  await db.close();
  return dumps;
}
