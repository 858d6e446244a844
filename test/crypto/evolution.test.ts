/**
 * Schema evolution on an encrypted database: the migration's new meta file is sealed again, so
 * neither the old nor the new component names appear in the clear, and the migrated world opens
 * with the key.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { defineComponent, open, t } from '../../src/index.js';
import { readTree } from '../helpers/tree.js';

test('a migrating open of an encrypted directory keeps the schema history sealed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ecsdb-crypto-evo-'));
  const encryption = { key: randomBytes(32).toString('hex') };
  try {
    const Old = defineComponent('Vitalitygauge', { hp: t.i16 });
    let db = await open({ dir, components: [Old], config: false, env: {}, encryption });
    const e = db.transact((tx) => {
      const entity = tx.create();
      tx.add(entity, Old, { hp: 90 });
      return entity;
    }).value;
    await db.close();
    const New = defineComponent('Vitalitygauge', { hp: t.i32, maximumpoints: t.i32 });
    db = await open({ dir, components: [New], schemaVersion: 2, config: false, env: {}, encryption });
    expect(db.get(e, New)).toEqual({ hp: 90, maximumpoints: 0 });
    await db.close();
    for (const [file, bytes] of await readTree(dir)) {
      for (const needle of ['Vitalitygauge', 'maximumpoints']) expect(bytes.includes(Buffer.from(needle)), `${needle} in ${file}`).toBe(false);
    }
    const again = await open({ dir, components: [New], schemaVersion: 2, config: false, env: {}, encryption });
    expect(again.get(e, New)).toEqual({ hp: 90, maximumpoints: 0 });
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
