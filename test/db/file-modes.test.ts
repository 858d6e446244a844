/**
 * What open() creates on the real file system is private to the user: files 0600, directories
 * 0700 (the data reveals the schema and the whole history of the world).
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { open } from '../../src/index.js';
import { Position } from '../helpers/fixtures.js';

const PERMISSION_BITS = 0o777;
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ecsdb-modes-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & PERMISSION_BITS;

test('ecsdb.meta, LOCK and every WAL segment are created with mode 0600', async () => {
  const dir = join(root, 'db');
  // Segments of 4 KiB and a flush per commit, so several segments get created.
  const db = await open({ dir, components: [Position], durability: 'strict', wal: { segmentSizeBytesMax: 4096 } });
  for (let i = 0; i < 150; i++) {
    await db.transact((tx) => tx.add(tx.create(), Position, { x: i })).durable;
  }
  const segments = (await readdir(join(dir, 'wal'))).filter((name) => name.endsWith('.wal'));
  expect(segments.length).toBeGreaterThanOrEqual(2);
  expect(await modeOf(join(dir, 'ecsdb.meta'))).toBe(0o600);
  expect(await modeOf(join(dir, 'LOCK'))).toBe(0o600);
  for (const name of segments) expect(await modeOf(join(dir, 'wal', name)), name).toBe(0o600);
  await db.close();
});

test('the data directory, its missing parents and wal/ are created with mode 0700', async () => {
  const dir = join(root, 'parent', 'db');
  const db = await open({ dir, components: [Position] });
  expect(await modeOf(join(root, 'parent'))).toBe(0o700);
  expect(await modeOf(dir)).toBe(0o700);
  expect(await modeOf(join(dir, 'wal'))).toBe(0o700);
  await db.close();
});
