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

const plain = (schema: readonly StoredComponent[]) => schema.map((c) => ({ name: c.name, fields: c.fields.map((f) => ({ ...f })) }));

/**
 * The form written to disk: `schema` emptied and no history in the clear; `sealedSchema` holds
 * the schema, its version and its history (schema evolution) under the key.
 */
export function sealMeta(meta: DatabaseMeta, encryption: StoredEncryption, cipher: DataCipher): DatabaseMeta {
  const history = meta.schemaHistory?.map((epoch) => ({ version: epoch.version, fromLsn: epoch.fromLsn, schema: plain(epoch.schema) }));
  const content = { schema: plain(meta.schema), schemaVersion: meta.schemaVersion ?? null, schemaHistory: history ?? null };
  const sealedSchema = cipher.seal(encode(content), cipher.metaSchemaAad(meta.createdAtMs));
  return { databaseId: meta.databaseId, walFormatVersion: meta.walFormatVersion, createdAtMs: meta.createdAtMs, schema: [], encryption, sealedSchema };
}

/** The meta file as a clear database has it (for rekey to no key). */
export function clearMeta(meta: DatabaseMeta): DatabaseMeta {
  const { encryption: _encryption, sealedSchema: _sealed, ...rest } = meta;
  return rest;
}

type SealedContent = { schema: StoredComponent[]; schemaVersion?: number; schemaHistory?: DatabaseMeta['schemaHistory'] };

function unsealSchema(meta: DatabaseMeta, cipher: DataCipher, path: string): SealedContent {
  const sealed = meta.sealedSchema;
  const plain = sealed === undefined ? undefined : cipher.open(sealed, cipher.metaSchemaAad(meta.createdAtMs));
  const at = { file: META_FILE_NAME, offset: FRAME_HEADER_SIZE_BYTES };
  if (plain === undefined) throw new EcsdbError('CORRUPT_WAL', `database meta file ${path}: the sealed schema does not authenticate under the key (damaged or tampered)`, at);
  const content = decode(plain) as { schema?: unknown; schemaVersion?: unknown; schemaHistory?: unknown } | null;
  if (content === null || typeof content !== 'object' || !Array.isArray(content.schema)) {
    throw new EcsdbError('CORRUPT_WAL', `database meta file ${path}: the sealed schema has an unexpected structure`, at);
  }
  return {
    schema: content.schema as StoredComponent[],
    ...(typeof content.schemaVersion === 'number' ? { schemaVersion: content.schemaVersion } : {}),
    ...(Array.isArray(content.schemaHistory) ? { schemaHistory: content.schemaHistory as DatabaseMeta['schemaHistory'] } : {}),
  };
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
  // The sealed form is dropped: whoever writes this meta back seals it again (sealMeta).
  const { sealedSchema: _sealed, ...rest } = meta;
  return { meta: { ...rest, ...unsealSchema(meta, cipher, `${dir}/ecsdb.meta`) }, cipher };
}
