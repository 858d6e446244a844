/**
 * `ecsdb inspect`: what a data directory holds, read without the application's code and without
 * changing anything (no lock is taken, no torn tail is cut): the meta file's identity, schema
 * version and schema (with the epochs of earlier schemas after migrations), and every WAL
 * segment with its LSN range, verified record by record.
 */
import { join, resolve } from 'node:path';
import { EcsdbError } from '../errors.js';
import { describeStoredField, historyOf } from '../meta/meta-file.js';
import { requireMeta, type CommonOptions } from './common.js';
import { listSegments } from '../recovery/recover-wal.js';
import { FileStorage } from '../storage/file-storage.js';
import { scanLiveSegment, hex } from '../wal/segment-reader.js';

export interface Inspection {
  readonly dir: string;
  readonly databaseId: string;
  readonly createdAtMs: number;
  readonly schema: readonly { name: string; fields: string[] }[];
  /** The stored schema version (1 unless the application declared another). */
  readonly schemaVersion: number;
  /** Every schema epoch: version, first LSN written in it, components (oldest first). */
  readonly schemaHistory: readonly { version: number; fromLsn: number; components: string[] }[];
  /** unusedBytes: preallocated zeros after the records (the newest segment of an open or crashed database). */
  readonly segments: readonly { name: string; sizeBytes: number; unusedBytes: number; firstLsn: number; lastLsn: number }[];
  readonly firstLsn: number;
  readonly lastLsn: number;
  readonly recordCount: number;
  /** Corruption found, one line each (empty when the log is clean); exit status 1 if any. */
  readonly damage: readonly string[];
  /** A torn tail of the newest segment: what a crash mid-append leaves, cut by open(); not damage. */
  readonly warnings: readonly string[];
}

export async function inspectDirectory(dirGiven: string, options: CommonOptions = {}): Promise<Inspection> {
  const storage = new FileStorage();
  const dir = resolve(dirGiven);
  const meta = await requireMeta(dir, options);
  const walDir = join(dir, 'wal');
  const segmentFiles = (await storage.stat(walDir)) === undefined ? [] : await listSegments(storage, walDir);
  const segments: Inspection['segments'][number][] = [];
  const damage: string[] = [];
  const warnings: string[] = [];
  let recordCount = 0;
  for (let i = 0; i < segmentFiles.length; i++) {
    const { name, firstLsn } = segmentFiles[i];
    const previous = segments[segments.length - 1];
    if (previous !== undefined && previous.lastLsn + 1 !== firstLsn) {
      damage.push(`${name}: starts at LSN ${firstLsn} but the log before it ends at ${previous.lastLsn} (records missing)`);
    }
    // inspect may run beside the application: the last segment may be written meanwhile.
    let sizeBytes = 0;
    const read = async (): Promise<Uint8Array> => {
      const bytes = await storage.readFile(join(walDir, name));
      sizeBytes = bytes.length;
      return bytes;
    };
    try {
      const context = { name, firstLsn, databaseId: meta.databaseId, isLast: i === segmentFiles.length - 1 };
      const { scan } = await scanLiveSegment(read, context, () => recordCount++);
      if (scan.tornBytes > 0 || scan.headerTorn) warnings.push(`${name}: torn tail of ${scan.tornBytes} bytes at offset ${scan.validEnd} (${scan.tornReason})`);
      segments.push({ name, sizeBytes, unusedBytes: scan.unusedBytes, firstLsn, lastLsn: scan.lastLsn });
    } catch (error) {
      if (!(error instanceof EcsdbError)) throw error;
      damage.push(error.message);
      segments.push({ name, sizeBytes, unusedBytes: 0, firstLsn, lastLsn: firstLsn - 1 });
    }
  }
  return {
    dir,
    databaseId: hex(meta.databaseId),
    createdAtMs: meta.createdAtMs,
    schema: meta.schema.map((component) => ({
      name: component.name,
      fields: component.fields.map(describeStoredField),
    })),
    schemaVersion: meta.schemaVersion ?? 1,
    schemaHistory: historyOf(meta).map((epoch) => ({ version: epoch.version, fromLsn: epoch.fromLsn, components: epoch.schema.map((c) => c.name) })),
    segments,
    firstLsn: segments.length > 0 ? segments[0].firstLsn : 0,
    lastLsn: segments.length > 0 ? segments[segments.length - 1].lastLsn : 0,
    recordCount,
    damage,
    warnings,
  };
}
