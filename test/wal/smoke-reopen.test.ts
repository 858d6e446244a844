import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { defineComponent, open, t } from '../../src/index.js';

const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
const Name = defineComponent('Name', { value: t.string });
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ecsdb-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('reopen replays the WAL', async () => {
  const db = await open({ dir, components: [Position, Name], durability: 'strict' });
  const ids: number[] = [];
  for (let i = 0; i < 100; i++) {
    const c = db.transact((tx) => {
      const e = tx.create();
      tx.add(e, Position, { x: i, y: 2, z: 3 });
      tx.add(e, Name, { value: `n${i}` });
      return e;
    });
    ids.push(c.value);
  }
  await db.transact((tx) => tx.destroy(ids[5])).durable;
  await db.close();
  const db2 = await open({ dir, components: [Position, Name] });
  expect(db2.recovery?.wal.recordsReplayed).toBe(101);
  expect(db2.exists(ids[5])).toBe(false);
  expect(db2.get(ids[7], Name)).toEqual({ value: 'n7' });
  expect(db2.query(Position).length).toBe(99);
  const again = db2.transact((tx) => tx.create());
  expect(again.value).toBe(5 + 2 ** 24);
  await again.durable;
  await expect(open({ dir, components: [Position, Name] })).rejects.toMatchObject({ code: 'DB_LOCKED' });
  await db2.close();
});
