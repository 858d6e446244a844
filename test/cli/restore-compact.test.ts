/** `ecsdb restore` and `ecsdb compact`, run as the built bin on real directories. */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { defineComponent, open, t } from '../../src/index.js';

const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
const COMPONENTS = [Position];

function ecsdb(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
}

let dir: string;
let firstSnapshot: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ecsdb-cli-restore-'));
  const db = await open({ dir, components: COMPONENTS, config: false, wal: { segmentSizeBytesMax: 4096 } });
  for (let i = 0; i < 300; i++) {
    db.transact((tx) => tx.add(tx.create(), Position, { x: i }));
    if (i % 50 === 0) await db.flush();
    if (i === 150) firstSnapshot = (await db.snapshot()).file;
  }
  await db.snapshot();
  for (let i = 0; i < 20; i++) db.transact((tx) => tx.add(tx.create(), Position, { x: 1000 + i }));
  await db.close();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function reopen(): Promise<{ lsn: number; count: number; lastX: number | undefined }> {
  const db = await open({ dir, components: COMPONENTS, config: false });
  try {
    const all = db.query(Position);
    return { lsn: db.lsn, count: db.entityCount, lastX: all.length === 0 ? undefined : db.get(all[all.length - 1], Position)!.x };
  } finally {
    await db.close();
  }
}

describe('ecsdb restore', () => {
  test('--from an older snapshot: the directory opens at its end LSN, later files kept aside, and continues', async () => {
    const result = ecsdb('restore', '--dir', dir, '--from', firstSnapshot, '--json');
    expect(result.status, result.stderr).toBe(0);
    const restored = JSON.parse(result.stdout);
    expect(restored.lsn).toBe(151);
    expect(restored.snapshot).toBe(firstSnapshot);
    expect(restored.movedAside.length).toBeGreaterThan(0);
    expect((await readdir(join(dir, restored.keptIn))).length).toBeGreaterThan(0);
    expect(await reopen()).toEqual({ lsn: 151, count: 151, lastX: 150 });
    expect(ecsdb('validate', '--dir', dir).status).toBe(0);
    const db = await open({ dir, components: COMPONENTS, config: false });
    await db.transact((tx) => tx.add(tx.create(), Position, { x: 7 })).durable;
    await db.close();
    expect(await reopen()).toEqual({ lsn: 152, count: 152, lastX: 7 });
  });

  test('--lsn: the state after that commit (in archived and in live WAL)', async () => {
    for (const lsn of [310, 200, 90, 0]) {
      const result = ecsdb('restore', '--dir', dir, '--lsn', String(lsn));
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toContain(`to LSN ${lsn}`);
      const state = await reopen();
      expect(state.lsn).toBe(lsn);
      expect(state.count).toBe(lsn);
      expect(ecsdb('validate', '--dir', dir).status).toBe(0);
    }
  });

  test('refusals: beyond the end of the log or an unknown snapshot exit 1 changing nothing; bad arguments exit 2', async () => {
    const before = (await readdir(dir, { recursive: true })).sort();
    const beyond = ecsdb('restore', '--dir', dir, '--lsn', '100000');
    expect(beyond.status).toBe(1);
    expect(beyond.stderr).toContain('ends at LSN 320');
    expect(ecsdb('restore', '--dir', dir, '--from', '00000000000000000007.snap').status).toBe(1);
    expect((await readdir(dir, { recursive: true })).sort()).toEqual(before);
    expect(ecsdb('restore', '--dir', dir).status).toBe(2);
    expect(ecsdb('restore', '--dir', dir, '--lsn', 'x').status).toBe(2);
    expect(ecsdb('restore', '--dir', dir, '--lsn', '1', '--from', firstSnapshot).status).toBe(2);
    expect(ecsdb('snapshot', '--dir', dir, '--lsn', '1').status).toBe(2);
  });

  test('refuses while the directory is open', async () => {
    const db = await open({ dir, components: COMPONENTS, config: false });
    try {
      const result = ecsdb('restore', '--dir', dir, '--lsn', '5');
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('DB_LOCKED');
    } finally {
      await db.close();
    }
    expect((await reopen()).lsn).toBe(320);
  });
});

describe('ecsdb compact', () => {
  test('snapshots, deletes older snapshots and archived WAL, reports bytes freed; the data is intact', async () => {
    const result = ecsdb('compact', '--dir', dir, '--json');
    expect(result.status, result.stderr).toBe(0);
    const compacted = JSON.parse(result.stdout);
    expect(compacted.snapshot.endLsn).toBe(320);
    expect(compacted.bytesFreed).toBeGreaterThan(0);
    expect(compacted.bytesFreed).toBe(compacted.deleted.reduce((s: number, d: { sizeBytes: number }) => s + d.sizeBytes, 0));
    expect(await readdir(join(dir, 'snapshots'))).toEqual([compacted.snapshot.file]);
    expect(await reopen()).toEqual({ lsn: 320, count: 320, lastX: 1019 });
    expect(ecsdb('validate', '--dir', dir).status).toBe(0);
    expect(ecsdb('compact', '--dir', dir).stdout).toContain('bytes freed');
  });

  test('deletes a stray snapshot temp file (the writer names them <E>.snap.<createdAtMs>.tmp)', async () => {
    expect(ecsdb('compact', '--dir', dir).status).toBe(0);
    const [kept] = await readdir(join(dir, 'snapshots'));
    await writeFile(join(dir, 'snapshots', `${kept}.1764000000000.tmp`), 'half a snapshot');
    const result = ecsdb('compact', '--dir', dir, '--json');
    expect(result.status, result.stderr).toBe(0);
    expect(await readdir(join(dir, 'snapshots'))).toEqual([kept]);
  });

  test('refuses while the directory is open', async () => {
    const db = await open({ dir, components: COMPONENTS, config: false });
    try {
      const result = ecsdb('compact', '--dir', dir);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('DB_LOCKED');
    } finally {
      await db.close();
    }
  });
});
