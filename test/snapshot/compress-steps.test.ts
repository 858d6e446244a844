/**
 * Compressed snapshots deflate one section per event-loop turn (src/snapshot/snapshot-writer.ts):
 * a whole chunk in one step held the game loop 9–34 ms at the default chunkSlots. The chunk is
 * still copied in one step, as without compression, and commits that run between the turns
 * that deflate it leave a snapshot from which the world recovers exactly.
 */
import { expect, test } from 'vitest';
import { open, type Entity } from '../../src/index.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { Position } from '../helpers/fixtures.js';
import { countTurns } from '../helpers/event-loop.js';
import { HERMETIC, MANUAL_SNAPSHOTS } from '../helpers/snapshot-dir.js';

const ENTITIES = 1_000;
const CHUNK_SLOTS = 256;

async function snapshotTurns(compress: boolean): Promise<{ turns: number; chunkCount: number }> {
  const storage = new SimulatedStorage({ seed: 5 });
  const db = await open({
    ...HERMETIC,
    dir: '/db',
    storage,
    durability: 'buffered',
    components: [Position],
    snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: CHUNK_SLOTS, compress },
  });
  db.transact((tx) => {
    for (let i = 0; i < ENTITIES; i++) tx.add(tx.create(), Position, { x: i, y: i / 2, z: -i });
  });
  await db.flush();
  const turns = countTurns();
  const { chunkCount } = await db.snapshot();
  const counted = turns.stop();
  await db.close();
  return { turns: counted, chunkCount };
}

test('a compressed snapshot gives the event loop a turn per section, where a plain one gives one per chunk', async () => {
  const plain = await snapshotTurns(false);
  const compressed = await snapshotTurns(true);
  expect(compressed.chunkCount).toBe(Math.ceil(ENTITIES / CHUNK_SLOTS));
  // Each chunk has five sections over 64 bytes (generations, alive, present, x, y, z: six, the
  // alive and present bytes of 256 slots included), so at least five turns more per chunk.
  expect(compressed.turns, `plain: ${plain.turns} turns`).toBeGreaterThanOrEqual(plain.turns + 5 * compressed.chunkCount);
});

test('with commits between the turns that deflate each chunk, the world recovers exactly from the snapshot', async () => {
  const storage = new SimulatedStorage({ seed: 6 });
  const options = {
    ...HERMETIC,
    dir: '/db',
    storage,
    durability: 'strict' as const,
    components: [Position],
    snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: CHUNK_SLOTS, compress: true },
  };
  const db = await open(options);
  const entities: Entity[] = [];
  db.transact((tx) => {
    for (let i = 0; i < ENTITIES; i++) {
      const e = tx.create();
      tx.add(e, Position, { x: i, y: 0, z: 0 });
      entities.push(e);
    }
  });
  // Rewrite every entity on every turn while the snapshot runs: each chunk's sections are
  // deflated over several turns, with commits in between.
  let done = false;
  let round = 0;
  const snapshot = db.snapshot().finally(() => (done = true));
  while (!done) {
    round++;
    db.transact((tx) => {
      for (const e of entities) tx.set(e, Position, { y: round, z: -round });
    });
    await new Promise((resolve) => setImmediate(resolve));
  }
  const entry = await snapshot;
  expect(entry.endLsn - entry.startLsn, 'commits went on during the snapshot').toBeGreaterThan(5);
  const expected = entities.map((e) => db.get(e, Position));
  await db.close();

  const reopened = await open({ ...options, storage: storage.crash({ tear: 'none' }) });
  expect(reopened.recovery?.skippedSnapshots).toEqual([]);
  expect(reopened.recovery?.snapshot?.file).toBe(entry.file);
  expect(entities.map((e) => reopened.get(e, Position))).toEqual(expected);
  await reopened.close();
});
