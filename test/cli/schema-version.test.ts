/**
 * The command line on a migrated directory (the built bin, as users run it): `inspect` shows the
 * schema version and its epochs; `validate` checks the snapshot written in the old schema with
 * that schema; `dump` opens it with the stored schema and version.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { V1_COMPONENTS, V2_COMPONENTS, V2_OPTIONS, dumpWith, expectedV2, openVersion, populateV1 } from '../helpers/schema-versions.js';

const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

function ecsdb(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
}

let root: string;
let dir: string;
let migrationLsn: number;
let entityCount: number;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ecsdb-cli-schema-'));
  dir = join(root, 'db');
  await populateV1(dir, undefined);
  const db = await openVersion(dir, undefined, V2_OPTIONS);
  migrationLsn = db.recovery!.schemaMigration!.lsn;
  entityCount = dumpWith(db, V2_COMPONENTS).length;
  await db.close();
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('ecsdb on a migrated directory', () => {
  test('inspect shows the schema version and the epochs (JSON and text)', () => {
    const json = ecsdb('inspect', '--dir', dir, '--json');
    expect(json.status, json.stderr).toBe(0);
    const inspection = JSON.parse(json.stdout);
    expect(inspection.schemaVersion).toBe(2);
    expect(inspection.schemaHistory).toEqual([
      { version: 1, fromLsn: 1, components: ['Position', 'Health', 'Name', 'Legacy', 'Slots'] },
      { version: 2, fromLsn: migrationLsn, components: ['Position', 'Health', 'Label', 'Slots', 'Velocity'] },
    ]);
    const text = ecsdb('inspect', '--dir', dir);
    expect(text.stdout).toContain('schema version 2');
    expect(text.stdout).toContain(`version 2 from LSN ${migrationLsn}: Position, Health, Label, Slots, Velocity`);
  });

  test('validate reads the snapshot of the old schema with that schema: no damage', () => {
    const result = ecsdb('validate', '--dir', dir, '--json');
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).checked.snapshots).toBe(1);
  });

  test('restore --lsn to before the migration: the CLI opens the old schema, the application migrates again', async () => {
    const restore = ecsdb('restore', '--dir', dir, '--lsn', String(migrationLsn - 1));
    expect(restore.status, restore.stderr).toBe(0);
    // The migration epoch is now pending; the CLI must not finish it without the migrations.
    const dump = ecsdb('dump', '--dir', dir, '--component', 'Name');
    expect(dump.status, dump.stderr).toBe(0);
    expect(dump.stdout).toContain('unit-');
    const inspection = JSON.parse(ecsdb('inspect', '--dir', dir, '--json').stdout);
    expect(inspection.schemaVersion, 'dump dropped the pending epoch').toBe(1);
    const old = await openVersion(dir, undefined, { components: V1_COMPONENTS });
    const v1 = dumpWith(old, V1_COMPONENTS);
    await old.close();
    const db = await openVersion(dir, undefined, V2_OPTIONS);
    expect(db.recovery!.schemaMigration?.lsn).toBe(migrationLsn);
    expect(dumpWith(db, V2_COMPONENTS)).toEqual(expectedV2(v1));
    await db.close();
  });

  test('dump opens the directory with its stored schema and version', () => {
    const result = ecsdb('dump', '--dir', dir, '--component', 'Label');
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThan(entityCount);
    expect(lines.every((line) => typeof line.Label.text === 'string' && line.Label.text.startsWith('unit-'))).toBe(true);
  });
});
