/**
 * The database meta file `<dir>/ecsdb.meta`: the directory's identity (database id, format
 * version) and its schema, so the directory describes itself without the application's code.
 * Mirrored in docs/wal-format.md.
 *
 * Layout, little-endian:
 *
 *   offset size field
 *   0      8    magic "ECSDBMET"
 *   8      2    meta format version (1)
 *   10     4    payload length in bytes
 *   14     4    CRC-32 of the payload
 *   18     n    payload: MessagePack map { databaseId: bin(16), walFormatVersion: int,
 *                 createdAtMs: int, schema: [{ name, fields: [{ name, kind, element?, length? }] }],
 *                 encryption?: { cipher, kdf, scrypt?: { salt, logN, r, p }, keyCheck: bin(16) },
 *                 sealedSchema?: bin } — with encryption, `schema` is [] and the schema is sealed
 *                 in `sealedSchema` (src/crypto/format.ts)
 *
 * Written once when the database is created, by temp file → fsync → rename → directory fsync:
 * a crash leaves either no meta file (the directory is not a database yet, and is created anew)
 * or the complete one.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { FRAME_HEADER_SIZE_BYTES, FRAME_VERSION_OFFSET, decodeFramed, encodeFramed } from '../encoding/framed.js';
import { replaceFileDurably } from '../storage/atomic-file.js';
import { EcsdbError } from '../errors.js';
import type { AnyComponentDef } from '../schema/component.js';
import type { Storage } from '../storage/storage.js';
import { DATABASE_ID_SIZE_BYTES, WAL_FORMAT_VERSION } from '../wal/format.js';
import { isStoredEncryption, type StoredEncryption } from '../crypto/keys.js';

export const META_FILE_NAME = 'ecsdb.meta';
export const META_FORMAT_VERSION = 1;
const META_MAGIC = 'ECSDBMET';

export interface StoredField {
  readonly name: string;
  readonly kind: string;
  readonly element?: string;
  readonly length?: number;
}

export interface StoredComponent {
  readonly name: string;
  readonly fields: readonly StoredField[];
}

export interface DatabaseMeta {
  readonly databaseId: Uint8Array;
  readonly walFormatVersion: number;
  readonly createdAtMs: number;
  readonly schema: readonly StoredComponent[];
  /** Encryption parameters (src/crypto/keys.ts); absent for a database stored in the clear. */
  readonly encryption?: StoredEncryption;
  /** With encryption: the schema, sealed (src/crypto/meta-seal.ts); `schema` is then stored empty. */
  readonly sealedSchema?: Uint8Array;
}

export function schemaOf(components: readonly AnyComponentDef[]): StoredComponent[] {
  return components.map((def) => ({
    name: def.name,
    fields: def.fieldNames.map((name) => {
      const type = def.fields[name];
      return type.kind === 'array' ? { name, kind: 'array', element: type.element, length: type.length } : { name, kind: type.kind };
    }),
  }));
}

export function newMeta(components: readonly AnyComponentDef[], nowMs: number): DatabaseMeta {
  return {
    databaseId: new Uint8Array(randomBytes(DATABASE_ID_SIZE_BYTES)),
    walFormatVersion: WAL_FORMAT_VERSION,
    createdAtMs: nowMs,
    schema: schemaOf(components),
  };
}

export function encodeMeta(meta: DatabaseMeta): Uint8Array {
  const schema = meta.schema.map((c) => ({ name: c.name, fields: c.fields.map((f) => ({ ...f })) }));
  return encodeFramed(META_MAGIC, META_FORMAT_VERSION, { ...meta, schema });
}

export function decodeMeta(bytes: Uint8Array, path: string): DatabaseMeta {
  const framed = decodeFramed(bytes, META_MAGIC);
  if (!framed.ok) {
    throw new EcsdbError('CORRUPT_WAL', `database meta file ${path} is damaged at byte offset ${framed.offset}: ${framed.problem}`, {
      file: META_FILE_NAME,
      offset: framed.offset,
    });
  }
  if (framed.version !== META_FORMAT_VERSION) {
    throw new EcsdbError(
      'FORMAT_VERSION_UNSUPPORTED',
      `${path} has meta format version ${framed.version}; this ecsdb reads version ${META_FORMAT_VERSION} (upgrade ecsdb to open this directory)`,
      { file: META_FILE_NAME, offset: FRAME_VERSION_OFFSET },
    );
  }
  return checkMetaShape(framed.value, path);
}

function checkMetaShape(value: unknown, path: string): DatabaseMeta {
  const meta = value as Partial<DatabaseMeta> | null;
  const ok =
    meta !== null &&
    typeof meta === 'object' &&
    meta.databaseId instanceof Uint8Array &&
    meta.databaseId.length === DATABASE_ID_SIZE_BYTES &&
    typeof meta.walFormatVersion === 'number' &&
    typeof meta.createdAtMs === 'number' &&
    Array.isArray(meta.schema) &&
    meta.schema.every(
      (c: StoredComponent) =>
        typeof c?.name === 'string' &&
        Array.isArray(c.fields) &&
        c.fields.every((f: StoredField) => typeof f?.name === 'string' && typeof f.kind === 'string'),
    ) &&
    (meta.encryption === undefined || isStoredEncryption(meta.encryption)) &&
    (meta.sealedSchema === undefined || meta.sealedSchema instanceof Uint8Array);
  // The payload passed its checksum, so these were written this way: reported at its start.
  const at = { file: META_FILE_NAME, offset: FRAME_HEADER_SIZE_BYTES };
  if (!ok) throw new EcsdbError('CORRUPT_WAL', `database meta file ${path} has an unexpected structure (payload at byte offset ${FRAME_HEADER_SIZE_BYTES})`, at);
  if (meta!.walFormatVersion !== WAL_FORMAT_VERSION) {
    throw new EcsdbError(
      'FORMAT_VERSION_UNSUPPORTED',
      `${path}: the WAL is in format version ${meta!.walFormatVersion}; this ecsdb reads version ${WAL_FORMAT_VERSION}`,
      at,
    );
  }
  return meta as DatabaseMeta;
}

/** `name: type` of a stored field, e.g. `slots: array<u16, 4>`. */
export function describeStoredField(field: StoredField): string {
  return `${field.name}: ${field.kind === 'array' ? `array<${field.element}, ${field.length}>` : field.kind}`;
}

/**
 * Fails with SCHEMA_MISMATCH, naming the first difference, unless the stored schema equals the
 * application's. (Schema evolution comes later; until then the schema is fixed at creation.)
 */
export function checkSchemaMatches(stored: readonly StoredComponent[], components: readonly AnyComponentDef[]): void {
  const given = schemaOf(components);
  const describe = (c: StoredComponent) => `${c.name} { ${c.fields.map(describeStoredField).join(', ')} }`;
  for (let i = 0; i < Math.max(stored.length, given.length); i++) {
    const a = stored[i];
    const b = given[i];
    if (a !== undefined && b !== undefined && describe(a) === describe(b)) continue;
    throw new EcsdbError(
      'SCHEMA_MISMATCH',
      `component #${i} differs: the directory stores ${a === undefined ? 'nothing' : describe(a)}, the application defines ${b === undefined ? 'nothing' : describe(b)}; open with the components (and order) the database was created with`,
    );
  }
}

/** Reads the meta file, or undefined when the directory has none. */
export async function readMeta(storage: Storage, dir: string): Promise<DatabaseMeta | undefined> {
  const path = join(dir, META_FILE_NAME);
  if ((await storage.stat(path)) === undefined) return undefined;
  return decodeMeta(await storage.readFile(path), path);
}

/** Writes the meta file durably (temp → fsync → rename → directory fsync). */
export async function writeMeta(storage: Storage, dir: string, meta: DatabaseMeta): Promise<void> {
  await replaceFileDurably(storage, dir, META_FILE_NAME, encodeMeta(meta));
}
