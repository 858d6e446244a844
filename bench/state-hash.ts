/**
 * The cost of db.stateHash() on a large world: 1,000,000 entities (default) with Position and
 * Velocity (3 × f32 each) and Health (i32), the W5 world, plus a Name string on every tenth.
 * Prints the median of a few runs. Not part of `npm run bench` (its figures have targets);
 * run it alone:
 *
 *   npm run build && node dist/bench/state-hash.js [--entities 1000000] [--runs 5]
 */
import { parseArgs } from 'node:util';
import { defineComponent, open, t } from '../src/index.js';

const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
const Velocity = defineComponent('Velocity', { x: t.f32, y: t.f32, z: t.f32 });
const Health = defineComponent('Health', { hp: t.i32 });
const Name = defineComponent('Name', { value: t.string });

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { entities: { type: 'string' }, runs: { type: 'string' } } });
  const entityCount = Number(values.entities ?? 1_000_000);
  const runs = Number(values.runs ?? 5);
  const db = await open({ components: [Position, Velocity, Health, Name], durability: 'memory', config: false, env: {} });
  const batch = 100_000;
  for (let start = 0; start < entityCount; start += batch) {
    db.transact((tx) => {
      for (let i = start; i < Math.min(entityCount, start + batch); i++) {
        const e = tx.create();
        tx.add(e, Position, { x: i, y: i * 0.5, z: -i });
        tx.add(e, Velocity, { x: 1, y: 0, z: -1 });
        tx.add(e, Health, { hp: i % 100 });
        if (i % 10 === 0) tx.add(e, Name, { value: `unit-${i}` });
      }
    });
  }
  const times: number[] = [];
  let hash = '';
  for (let run = 0; run < runs; run++) {
    const startNs = process.hrtime.bigint();
    hash = db.stateHash();
    times.push(Number(process.hrtime.bigint() - startNs) / 1e6);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(
    `stateHash of ${entityCount.toLocaleString('en')} entities (Position, Velocity, Health; Name on 1 in 10): ` +
      `median ${median.toFixed(1)} ms over ${runs} runs (min ${times[0].toFixed(1)}, max ${times[times.length - 1].toFixed(1)}); ${hash}`,
  );
  await db.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
