/** The `ecsdb` command line, run as a user would run it (the built bin). */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { defineComponent, open, t } from '../../src/index.js';

const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
const Tags = defineComponent('Tags', { slots: t.array(t.u8, 4) });

function ecsdb(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ecsdb-cli-'));
  const db = await open({ dir, components: [Position, Tags], wal: { segmentSizeBytesMax: 4096 } });
  for (let i = 0; i < 300; i++) {
    db.transact((tx) => tx.add(tx.create(), Position, { x: i }));
    if (i % 50 === 0) await db.flush();
  }
  await db.close();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ecsdb inspect', () => {
  test('reports identity, schema, segments and the LSN range as JSON, exit 0', () => {
    const result = ecsdb('inspect', '--dir', dir, '--json');
    expect(result.status).toBe(0);
    const inspection = JSON.parse(result.stdout);
    expect(inspection.lastLsn).toBe(300);
    expect(inspection.recordCount).toBe(300);
    expect(inspection.schema).toEqual([
      { name: 'Position', fields: ['x: f32', 'y: f32', 'z: f32'] },
      { name: 'Tags', fields: ['slots: array<u8, 4>'] },
    ]);
    expect(inspection.segments.length).toBeGreaterThan(1);
    expect(inspection.damage).toEqual([]);
    expect(inspection.warnings).toEqual([]);
  });

  test('prints a readable report on a terminal-less run', () => {
    const result = ecsdb('inspect', '--dir', dir);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('LSN range      1 .. 300 (300 records)');
  });

  test('reports damage in a segment and exits 1', async () => {
    const names = (await readdir(join(dir, 'wal'))).sort();
    const path = join(dir, 'wal', names[0]);
    const bytes = await readFile(path);
    bytes[100] ^= 0xff;
    await writeFile(path, bytes);
    const result = ecsdb('inspect', '--dir', dir, '--json');
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout).damage.join('\n')).toContain(names[0]);
  });

  test('a torn tail of the newest segment is a warning: exit 0', async () => {
    const names = (await readdir(join(dir, 'wal'))).sort();
    const path = join(dir, 'wal', names[names.length - 1]);
    await writeFile(path, Buffer.concat([await readFile(path), Buffer.from([40, 0, 0])]));
    const result = ecsdb('inspect', '--dir', dir, '--json');
    expect(result.status).toBe(0);
    const inspection = JSON.parse(result.stdout);
    expect(inspection.damage).toEqual([]);
    expect(inspection.warnings.join('\n')).toContain(`${names[names.length - 1]}: torn tail of 3 bytes`);
    expect(ecsdb('inspect', '--dir', dir).stdout).toContain('warning: ');
  });

  test('refuses a directory that is not a database, exit 1 with a one-line message', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'ecsdb-cli-empty-'));
    const result = ecsdb('inspect', '--dir', empty);
    await rm(empty, { recursive: true, force: true });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('not an ecsdb directory');
  });
});

test('ecsdb with an unknown command or flag exits 2 with usage; --help and --version exit 0', () => {
  expect(ecsdb('frobnicate').status).toBe(2);
  expect(ecsdb('inspect', '--bogus').status).toBe(2);
  expect(ecsdb('inspect').status).toBe(2);
  const help = ecsdb('--help');
  expect(help.status).toBe(0);
  expect(help.stdout).toContain('inspect');
  expect(ecsdb('--version').stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
});
