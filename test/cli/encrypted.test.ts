/** Every `ecsdb` command on an encrypted directory, with the key from --key-file or the environment. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { defineComponent, open, t } from '../../src/index.js';
import { runCli } from '../../src/cli/run.js';
import { SECTION_HEADER_SIZE_BYTES, SNAPSHOT_HEADER_SIZE_BYTES, decodeSectionHeader } from '../../src/snapshot/format.js';
import { readTree } from '../helpers/tree.js';

const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
const Name = defineComponent('Name', { value: t.string });
const KEY = randomBytes(32).toString('hex');

let root: string;
let dir: string;
let keyFile: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ecsdb-cli-enc-'));
  dir = join(root, 'db');
  keyFile = join(root, 'ecsdb.key');
  await writeFile(keyFile, `${KEY}\n`, { mode: 0o600 });
  const db = await open({ dir, components: [Position, Name], config: false, env: {}, encryption: { keyFile }, wal: { segmentSizeBytesMax: 4096 }, archive: { compress: true } });
  for (let i = 0; i < 200; i++) {
    const commit = db.transact((tx) => {
      const e = tx.create();
      tx.add(e, Position, { x: i, y: 1, z: 2 });
      if (i % 50 === 0) tx.add(e, Name, { value: `scout-${i}` });
    }, { durability: i % 20 === 19 ? 'strict' : 'buffered' });
    if (i % 20 === 19) await commit.durable;
    if (i === 120) await db.snapshot();
  }
  await db.close();
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const status = await runCli(args, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  return { status, stdout, stderr };
}

describe('without the key', () => {
  test.each(['inspect', 'validate', 'dump', 'snapshot', 'compact', 'repair'])('%s fails with KEY_REQUIRED on one line and changes nothing', async (command) => {
    const before = await readTree(dir);
    const result = await cli(command, '--dir', dir);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^ecsdb: KEY_REQUIRED: .*encrypted/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(await readTree(dir)).toEqual(before);
  });
});

describe('with --key-file', () => {
  test('inspect shows the schema and the LSN range', async () => {
    const result = await cli('inspect', '--dir', dir, '--key-file', keyFile, '--json');
    expect(result.status).toBe(0);
    const inspection = JSON.parse(result.stdout) as { schema: { name: string }[]; lastLsn: number };
    expect(inspection.schema.map((c) => c.name)).toEqual(['Position', 'Name']);
    expect(inspection.lastLsn).toBe(200);
  });

  test('validate checks every record and section, and names the file and offset of a tampered section', async () => {
    const clean = await cli('validate', '--dir', dir, '--key-file', keyFile, '--json');
    expect(clean.status).toBe(0);
    expect((JSON.parse(clean.stdout) as { checked: { records: number } }).checked.records).toBeGreaterThan(0);
    const name = (await readdir(join(dir, 'snapshots'))).find((n) => n.endsWith('.snap'))!;
    const path = join(dir, 'snapshots', name);
    const bytes = new Uint8Array(await readFile(path));
    const section = decodeSectionHeader(bytes, SNAPSHOT_HEADER_SIZE_BYTES);
    const start = SNAPSHOT_HEADER_SIZE_BYTES + SECTION_HEADER_SIZE_BYTES;
    bytes[start + 5] ^= 0x20;
    new DataView(bytes.buffer).setUint32(SNAPSHOT_HEADER_SIZE_BYTES + 4, crc32(bytes.subarray(start, start + section.storedSizeBytes)), true);
    await writeFile(path, bytes);
    const damaged = await cli('validate', '--dir', dir, '--key-file', keyFile);
    expect(damaged.status).toBe(1);
    expect(damaged.stdout).toContain(`DAMAGE snapshots/${name} @${start}`);
    expect(damaged.stdout).toContain('does not authenticate');
  });

  test('dump prints the decrypted world; snapshot, repair, restore and compact work and keep it encrypted', async () => {
    const dump = await cli('dump', '--dir', dir, '--key-file', keyFile, '--component', 'Name');
    expect(dump.status).toBe(0);
    expect(dump.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { Name: { value: string } }).Name.value)).toEqual(['scout-0', 'scout-50', 'scout-100', 'scout-150']);
    expect((await cli('snapshot', '--dir', dir, '--key-file', keyFile)).status).toBe(0);
    const repaired = await cli('repair', '--dir', dir, '--key-file', keyFile);
    expect(repaired.stderr).toBe('');
    expect(repaired.stdout).toContain('clean');
    const restored = await cli('restore', '--dir', dir, '--key-file', keyFile, '--lsn', '160');
    expect(restored.stderr).toBe('');
    expect(restored.status).toBe(0);
    expect((await cli('compact', '--dir', dir, '--key-file', keyFile)).status).toBe(0);
    const db = await open({ dir, components: [Position, Name], config: false, env: { ECSDB_ENCRYPTION_KEY: KEY } });
    expect(db.lsn).toBe(160);
    expect(db.query(Name).map((e) => db.get(e, Name)!.value)).toEqual(['scout-0', 'scout-50', 'scout-100', 'scout-150']);
    await db.close();
    for (const [file, bytes] of await readTree(dir)) expect(bytes.includes(Buffer.from('scout-')), file).toBe(false);
  });
});

test('the key can come from the environment instead of a flag', async () => {
  process.env.ECSDB_ENCRYPTION_KEY = KEY;
  try {
    const result = await cli('validate', '--dir', dir);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  } finally {
    delete process.env.ECSDB_ENCRYPTION_KEY;
  }
});
