/**
 * The snapshot manifest `<dir>/MANIFEST`: the list of published snapshots, newest last. A
 * snapshot file counts only once the manifest names it, so a crash while one is being written
 * never makes recovery consider a half-written file.
 *
 * Framed like the meta file (see encoding/framed.ts): magic "ECSDBMAN", version 1, payload
 * MessagePack { snapshots: [{ file, startLsn, endLsn, createdAtMs, sizeBytes, base? }] }.
 * Replaced atomically (temp → fsync → rename → directory fsync): a crash leaves the old
 * manifest or the new one.
 */
import { join } from 'node:path';
import { EcsdbError } from '../errors.js';
import { FRAME_HEADER_SIZE_BYTES, FRAME_VERSION_OFFSET, decodeFramed, encodeFramed } from '../encoding/framed.js';
import { replaceFileDurably } from '../storage/atomic-file.js';
import type { Storage } from '../storage/storage.js';
import { parseSnapshotFileName } from './format.js';

export const MANIFEST_FILE_NAME = 'MANIFEST';
export const MANIFEST_FORMAT_VERSION = 1;
const MANIFEST_MAGIC = 'ECSDBMAN';

export interface SnapshotEntry {
  /** File name inside the snapshots directory. */
  readonly file: string;
  readonly startLsn: number;
  readonly endLsn: number;
  readonly createdAtMs: number;
  readonly sizeBytes: number;
  /** For an incremental snapshot, the file it builds on. */
  readonly base?: string;
}

export interface Manifest {
  /** Oldest first. */
  readonly snapshots: readonly SnapshotEntry[];
}

export function encodeManifest(manifest: Manifest): Uint8Array {
  return encodeFramed(MANIFEST_MAGIC, MANIFEST_FORMAT_VERSION, { snapshots: manifest.snapshots.map((entry) => ({ ...entry })) });
}

/** Decodes a manifest; throws CORRUPT_SNAPSHOT naming the file and offset when damaged. */
export function decodeManifest(bytes: Uint8Array, path: string): Manifest {
  const framed = decodeFramed(bytes, MANIFEST_MAGIC);
  if (!framed.ok) {
    throw new EcsdbError('CORRUPT_SNAPSHOT', `snapshot manifest ${path} is damaged at byte offset ${framed.offset}: ${framed.problem}`, {
      file: MANIFEST_FILE_NAME,
      offset: framed.offset,
    });
  }
  if (framed.version !== MANIFEST_FORMAT_VERSION) {
    throw new EcsdbError(
      'FORMAT_VERSION_UNSUPPORTED',
      `${path} has manifest format version ${framed.version}; this ecsdb reads version ${MANIFEST_FORMAT_VERSION}`,
      { file: MANIFEST_FILE_NAME, offset: FRAME_VERSION_OFFSET },
    );
  }
  const value = framed.value as { snapshots?: unknown } | null;
  const entries = value !== null && typeof value === 'object' && Array.isArray(value.snapshots) ? value.snapshots : undefined;
  if (entries === undefined || !entries.every(isEntry)) {
    throw new EcsdbError('CORRUPT_SNAPSHOT', `snapshot manifest ${path} has an unexpected structure (payload at byte offset ${FRAME_HEADER_SIZE_BYTES})`, {
      file: MANIFEST_FILE_NAME,
      offset: FRAME_HEADER_SIZE_BYTES,
    });
  }
  return { snapshots: entries };
}

function isEntry(value: unknown): value is SnapshotEntry {
  const entry = value as Partial<SnapshotEntry> | null;
  return (
    entry !== null &&
    typeof entry === 'object' &&
    typeof entry.file === 'string' &&
    parseSnapshotFileName(entry.file) !== undefined &&
    [entry.startLsn, entry.endLsn, entry.createdAtMs, entry.sizeBytes].every((n) => Number.isSafeInteger(n) && (n as number) >= 0) &&
    (entry.base === undefined || (typeof entry.base === 'string' && parseSnapshotFileName(entry.base) !== undefined))
  );
}

/** The manifest, or undefined when the directory has none yet. */
export async function readManifest(storage: Storage, dir: string): Promise<Manifest | undefined> {
  const path = join(dir, MANIFEST_FILE_NAME);
  if ((await storage.stat(path)) === undefined) return undefined;
  return decodeManifest(await storage.readFile(path), path);
}

export async function writeManifest(storage: Storage, dir: string, manifest: Manifest): Promise<void> {
  await replaceFileDurably(storage, dir, MANIFEST_FILE_NAME, encodeManifest(manifest));
}
