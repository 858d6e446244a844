/**
 * Real crashes: a child process commits as fast as it can and reports every commit whose
 * `durable` resolved; the test kills it with SIGKILL at a random moment, reopens the directory,
 * and checks that every acknowledged commit is there and that no transaction is half-applied.
 *
 * Each commit n >= 2 creates an entity with Position.x = n and sets the counter's Health.hp = n
 * in the same transaction, so after recovery to LSN L the world must hold exactly the entities
 * 2..L and a counter at L.
 *
 * Size: ECSDB_SIGKILL_ROUNDS rounds per mode (default 8). Needs the built library (npm test builds).
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineComponent, open, t } from '../../src/index.js';
import { reportFamily } from '../helpers/proof-summary.js';

const ROUNDS = Number(process.env.ECSDB_SIGKILL_ROUNDS ?? 8);
const LIBRARY = fileURLToPath(new URL('../../dist/src/index.js', import.meta.url));
const Position = defineComponent('Position', { x: t.f64, y: t.f64, z: t.f64 });
const Health = defineComponent('Health', { hp: t.i32 });

const CHILD = `
import { open, defineComponent, t } from ${JSON.stringify(LIBRARY)};
const Position = defineComponent('Position', { x: t.f64, y: t.f64, z: t.f64 });
const Health = defineComponent('Health', { hp: t.i32 });
const [dir, durability, handOver] = process.argv.slice(2);
// With handOver, batches fill between rare yields and go to the write thread (WalWriter #handOver).
const wal = handOver === 'yes' ? { flushIntervalMs: 2, segmentSizeBytesMax: 1024 * 1024, batchSizeBytesMax: 16 * 1024 } : { flushIntervalMs: 2, segmentSizeBytesMax: 64 * 1024 };
const yieldEvery = handOver === 'yes' ? 2000 : 3;
const db = await open({ dir, components: [Position, Health], durability, wal });
let counter = db.query(Health)[0];
if (counter === undefined) counter = db.transact((tx) => { const e = tx.create(); tx.add(e, Health, { hp: 1 }); return e; }).value;
process.send('ready');
for (let i = 0; ; i++) {
  const commit = db.transact((tx) => {
    const n = db.lsn + 1;
    const e = tx.create();
    tx.add(e, Position, { x: n, y: 0, z: 0 });
    tx.set(counter, Health, { hp: n });
  });
  const lsn = commit.lsn;
  commit.durable.then(() => process.send({ durableLsn: lsn }), () => undefined);
  if (i % yieldEvery === 0) await new Promise((r) => setImmediate(r));
}
`;

let workDir: string;
let childPath: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'ecsdb-sigkill-'));
  childPath = join(workDir, 'child.mjs');
  await writeFile(childPath, CHILD);
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function runAndKill(dir: string, durability: string, handOver: boolean, killAfterMs: number): Promise<number> {
  const child = fork(childPath, [dir, durability, handOver ? 'yes' : 'no'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  let acknowledged = 0;
  const ready = new Promise<void>((resolveReady, reject) => {
    child.on('message', (message: unknown) => {
      if (message === 'ready') resolveReady();
      else acknowledged = Math.max(acknowledged, (message as { durableLsn: number }).durableLsn);
    });
    child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
  });
  await ready;
  await new Promise((r) => setTimeout(r, killAfterMs));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  return acknowledged;
}

describe.each([
  { durability: 'strict', handOver: false },
  { durability: 'buffered', handOver: false },
  { durability: 'strict', handOver: true },
  { durability: 'buffered', handOver: true },
])('SIGKILL during $durability commits (batches handed to the write thread: $handOver)', ({ durability, handOver }) => {
  test(`every acknowledged commit survives ${ROUNDS} kills, and no transaction is half-applied`, async () => {
    const dir = join(workDir, `${durability}-${handOver ? 'handover' : 'loop'}`);
    let kills = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const acknowledged = await runAndKill(dir, durability, handOver, 20 + Math.floor(Math.random() * 200));
      const db = await open({ dir, components: [Position, Health] });
      try {
        const recovered = db.lsn;
        expect(recovered, `round ${round}: acknowledged ${acknowledged}`).toBeGreaterThanOrEqual(acknowledged);
        // A kill before the first commit became durable leaves an empty database.
        const counter = db.query(Health)[0];
        if (recovered === 0) expect(counter).toBeUndefined();
        else expect(db.get(counter, Health)!.hp).toBe(recovered);
        const xs = db.query(Position).map((e) => db.get(e, Position)!.x).sort((a, b) => a - b);
        expect(xs.length).toBe(Math.max(0, recovered - 1));
        expect(xs.every((x, i) => x === i + 2)).toBe(true);
      } finally {
        await db.close();
      }
      kills++;
    }
    reportFamily('SIGKILL storms', { kills, 'acknowledged lost': 0, 'partial visible': 0 });
    console.log(`sigkill (${durability}${handOver ? ', handed over' : ''}): kills ${kills}, acknowledged lost: 0, partial visible: 0`);
  });
});
