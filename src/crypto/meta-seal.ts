/**
 * The meta file of an encrypted database: the schema (component and field names and types) is
 * sealed, the rest (database id, creation time, format version, encryption parameters with the
 * key check value) stays readable, so that a missing or wrong key is recognised from the meta
 * file alone, before anything else is read or changed.
 */
import { decode, encode } from '@msgpack/msgpack';
import { EcsdbError } from '../errors.js';
import { META_FILE_NAME, readMeta, type DatabaseMeta, type StoredComponent } from '../meta/meta-file.js';
import { FRAME_HEADER_SIZE_BYTES } from '../encoding/framed.js';
import type { Storage } from '../storage/storage.js';
import type { DataCipher } from './cipher.js';
import { unlock, type KeySource, type StoredEncryption } from './keys.js';

/** The form written to disk: `schema` emptied, `sealedSchema` holding it under the key. */
export function sealMeta(meta: DatabaseMeta, encryption: StoredEncryption, cipher: DataCipher): DatabaseMeta {
  const schema = meta.schema.map((c) => ({ name: c.name, fields: c.fields.map((f) => ({ ...f })) }));
  const sealedSchema = cipher.seal(encode(schema), cipher.metaSchemaAad(meta.createdAtMs));
  return { databaseId: meta.databaseId, walFormatVersion: meta.walFormatVersion, createdAtMs: meta.createdAtMs, schema: [], encryption, sealedSchema };
}

/** The meta file as a clear database has it (for rekey to no key). */
export function clearMeta(meta: DatabaseMeta): DatabaseMeta {
  return { databaseId: meta.databaseId, walFormatVersion: meta.walFormatVersion, createdAtMs: meta.createdAtMs, schema: meta.schema };
}

function unsealSchema(meta: DatabaseMeta, cipher: DataCipher, path: string): StoredComponent[] {
  const sealed = meta.sealedSchema;
  const plain = sealed === undefined ? undefined : cipher.open(sealed, cipher.metaSchemaAad(meta.createdAtMs));
  const at = { file: META_FILE_NAME, offset: FRAME_HEADER_SIZE_BYTES };
  if (plain === undefined) throw new EcsdbError('CORRUPT_WAL', `database meta file ${path}: the sealed schema does not authenticate under the key (damaged or tampered)`, at);
  const schema = decode(plain) as StoredComponent[];
  if (!Array.isArray(schema)) throw new EcsdbError('CORRUPT_WAL', `database meta file ${path}: the sealed schema has an unexpected structure`, at);
  return schema;
}

export interface UnlockedMeta {
  /** With the schema in the clear, whatever the file holds. */
  readonly meta: DatabaseMeta;
  /** The database's cipher; undefined for a database stored in the clear. */
  readonly cipher: DataCipher | undefined;
}

/**
 * Reads ecsdb.meta and checks the key against it: KEY_REQUIRED for an encrypted directory without
 * a key source, KEY_INVALID for a wrong key or for a key given to a directory stored in the clear.
 * undefined when there is no meta file. Nothing is changed on disk.
 */
export async function readMetaWithKey(storage: Storage, dir: string, source: KeySource | undefined): Promise<UnlockedMeta | undefined> {
  const meta = await readMeta(storage, dir);
  if (meta === undefined) return undefined;
  return unlockMeta(meta, source, dir);
}

export async function unlockMeta(meta: DatabaseMeta, source: KeySource | undefined, dir: string): Promise<UnlockedMeta> {
  if (meta.encryption === undefined) {
    if (source !== undefined) {
      throw new EcsdbError(
        'KEY_INVALID',
        `${dir} is not encrypted, but ${source.origin} gives a key; remove the key setting, or encrypt the directory with \`ecsdb rekey\` (docs/api.md); nothing was changed`,
        { detail: 'not-encrypted' },
      );
    }
    return { meta, cipher: undefined };
  }
  const cipher = await unlock(meta.encryption, source, meta.databaseId, dir);
  return { meta: { ...meta, schema: unsealSchema(meta, cipher, `${dir}/ecsdb.meta`) }, cipher };
}
