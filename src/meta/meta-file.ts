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
 *                 createdAtMs: int, schema: [{ name, fields: [{ name, kind, element?, length? }] }] }
 *                 and, in format version 2 only: schemaVersion: int,
 *                 schemaHistory: [{ version, fromLsn, schema }] (oldest first)
 *
 * Version 2 is written only once a directory's schema has a version other than 1 or has been
 * migrated (see schema/evolution.ts): an ecsdb that knows only version 1 then refuses the
 * directory instead of replaying WAL records of an older schema with the newer one. A directory
 * that never evolved keeps version 1 bytes exactly.
 *
 * The schema history says which schema wrote which WAL records: the entry with the largest
 * `fromLsn` at or below an LSN is the schema of that record and of the world after it (the
 * first entry also covers LSN 0, the empty world). `schema` and `schemaVersion` repeat the last
 * entry. An entry whose `fromLsn` is beyond the end of the log is a migration that a crash
 * interrupted before its first record was durable; open() finishes it again or drops it.
 *
 * Written when the database is created, and again when a migrating open records a new schema,
 * by temp file → fsync → rename → directory fsync: a crash leaves either the previous meta file
 * (at creation: none, and the directory is created anew) or the complete new one.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { FRAME_HEADER_SIZE_BYTES, FRAME_VERSION_OFFSET, decodeFramed, encodeFramed } from '../encoding/framed.js';
import { replaceFileDurably } from '../storage/atomic-file.js';
import { EcsdbError } from '../errors.js';
import type { AnyComponentDef } from '../schema/component.js';
import type { Storage } from '../storage/storage.js';
import { DATABASE_ID_SIZE_BYTES, WAL_FORMAT_VERSION } from '../wal/format.js';

export const META_FILE_NAME = 'ecsdb.meta';
export const META_FORMAT_VERSION = 1;
/** The format that adds schemaVersion and schemaHistory (see above). */
export const META_FORMAT_VERSION_EVOLVED = 2;
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

/** One schema of the directory's life: it wrote the WAL records from `fromLsn` on. */
export interface SchemaEpoch {
  readonly version: number;
  readonly fromLsn: number;
  readonly schema: readonly StoredComponent[];
}

export interface DatabaseMeta {
  readonly databaseId: Uint8Array;
  readonly walFormatVersion: number;
  readonly createdAtMs: number;
  /** The current schema (the last entry of the history). */
  readonly schema: readonly StoredComponent[];
  /** The current schema version; absent in a format 1 file, where it is 1. */
  readonly schemaVersion?: number;
  /** Absent in a format 1 file: one entry, version 1, from LSN 1, `schema`. */
  readonly schemaHistory?: readonly SchemaEpoch[];
}

/** The schema history of a meta, explicit also for a format 1 file. */
export function historyOf(meta: DatabaseMeta): readonly SchemaEpoch[] {
  return meta.schemaHistory ?? [{ version: meta.schemaVersion ?? 1, fromLsn: 1, schema: meta.schema }];
}

/** The history entry that wrote record `lsn` (and the world after it); LSN 0 is the first's. */
export function epochAt(history: readonly SchemaEpoch[], lsn: number): SchemaEpoch {
  let found = history[0];
  for (const epoch of history) if (epoch.fromLsn <= lsn) found = epoch;
  return found;
}

/** The schema the snapshot or WAL record at `lsn` was written in. */
export function schemaAt(meta: DatabaseMeta, lsn: number): readonly StoredComponent[] {
  return epochAt(historyOf(meta), lsn).schema;
}

/** A meta whose history is `history` (its last entry becomes the current schema). */
export function withHistory(meta: DatabaseMeta, history: readonly SchemaEpoch[]): DatabaseMeta {
  const current = history[history.length - 1];
  return { ...meta, schema: current.schema, schemaVersion: current.version, schemaHistory: history };
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

export function newMeta(components: readonly AnyComponentDef[], nowMs: number, schemaVersion = 1): DatabaseMeta {
  const meta: DatabaseMeta = {
    databaseId: new Uint8Array(randomBytes(DATABASE_ID_SIZE_BYTES)),
    walFormatVersion: WAL_FORMAT_VERSION,
    createdAtMs: nowMs,
    schema: schemaOf(components),
  };
  return schemaVersion === 1 ? meta : withHistory(meta, [{ version: schemaVersion, fromLsn: 1, schema: meta.schema }]);
}

const plainSchema = (schema: readonly StoredComponent[]) => schema.map((c) => ({ name: c.name, fields: c.fields.map((f) => ({ ...f })) }));

/** True when the meta carries nothing format 1 cannot say: version 1, never migrated. */
function isFormat1(meta: DatabaseMeta): boolean {
  const history = historyOf(meta);
  return history.length === 1 && history[0].version === 1 && history[0].fromLsn === 1 && (meta.schemaVersion ?? 1) === 1;
}

export function encodeMeta(meta: DatabaseMeta): Uint8Array {
  const base = { databaseId: meta.databaseId, walFormatVersion: meta.walFormatVersion, createdAtMs: meta.createdAtMs, schema: plainSchema(meta.schema) };
  if (isFormat1(meta)) return encodeFramed(META_MAGIC, META_FORMAT_VERSION, base);
  const history = historyOf(meta).map((epoch) => ({ version: epoch.version, fromLsn: epoch.fromLsn, schema: plainSchema(epoch.schema) }));
  return encodeFramed(META_MAGIC, META_FORMAT_VERSION_EVOLVED, { ...base, schemaVersion: meta.schemaVersion ?? 1, schemaHistory: history });
}

export function decodeMeta(bytes: Uint8Array, path: string): DatabaseMeta {
  const framed = decodeFramed(bytes, META_MAGIC);
  if (!framed.ok) {
    throw new EcsdbError('CORRUPT_WAL', `database meta file ${path} is damaged at byte offset ${framed.offset}: ${framed.problem}`, {
      file: META_FILE_NAME,
      offset: framed.offset,
    });
  }
  if (framed.version !== META_FORMAT_VERSION && framed.version !== META_FORMAT_VERSION_EVOLVED) {
    throw new EcsdbError(
      'FORMAT_VERSION_UNSUPPORTED',
      `${path} has meta format version ${framed.version}; this ecsdb reads versions ${META_FORMAT_VERSION} and ${META_FORMAT_VERSION_EVOLVED} (upgrade ecsdb to open this directory)`,
      { file: META_FILE_NAME, offset: FRAME_VERSION_OFFSET },
    );
  }
  const meta = checkMetaShape(framed.value, path);
  if (framed.version === META_FORMAT_VERSION) return meta;
  return checkHistoryShape(meta, path);
}

const isSchema = (schema: unknown): schema is StoredComponent[] =>
  Array.isArray(schema) &&
  schema.every(
    (c: StoredComponent) =>
      typeof c?.name === 'string' && Array.isArray(c.fields) && c.fields.every((f: StoredField) => typeof f?.name === 'string' && typeof f.kind === 'string'),
  );

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;

/** A format 2 meta: a non-empty history, ascending, ending in the current schema and version. */
function checkHistoryShape(meta: DatabaseMeta, path: string): DatabaseMeta {
  const history = meta.schemaHistory as unknown;
  const ok =
    isCount(meta.schemaVersion) &&
    Array.isArray(history) &&
    history.length > 0 &&
    history.every(
      (e: SchemaEpoch, i: number) =>
        isCount(e?.version) && isCount(e.fromLsn) && isSchema(e.schema) && (i === 0 || (e.fromLsn >= history[i - 1].fromLsn && e.version >= history[i - 1].version)),
    ) &&
    history[history.length - 1].version === meta.schemaVersion &&
    JSON.stringify(history[history.length - 1].schema) === JSON.stringify(meta.schema);
  if (!ok) {
    throw new EcsdbError('CORRUPT_WAL', `database meta file ${path} has an unexpected schema history (payload at byte offset ${FRAME_HEADER_SIZE_BYTES})`, {
      file: META_FILE_NAME,
      offset: FRAME_HEADER_SIZE_BYTES,
    });
  }
  return meta;
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
    isSchema(meta.schema);
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

/** True when two stored schemas are the same (names, order and types). */
export function sameSchema(a: readonly StoredComponent[], b: readonly StoredComponent[]): boolean {
  return JSON.stringify(plainSchema(a)) === JSON.stringify(plainSchema(b));
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
