/**
 * Taking a snapshot while commits go on. The world is copied in chunks of `chunkSlots` slots,
 * one chunk per event-loop turn, so the main thread pauses only for one chunk's copy and
 * checksum at a time; file writes are asynchronous (libuv's thread pool). With `compress`, the
 * chunk is copied out in its step and its sections are then deflated one per turn (deflate is
 * slow on float columns: a whole chunk in one step took 9–34 ms). Between chunks,
 * commits keep changing the world: the image is fuzzy, and that is sound because every chunk
 * holds at least the state at the start LSN S and the WAL's physical after-images from S + 1
 * on repair everything that changed since (see format.ts).
 *
 * Publication, and what a crash at each step leaves:
 * 1. chunks are written to `<E>.snap.<createdAtMs>.tmp` → a crash leaves a stray temp file, ignored and
 *    removed later; nothing refers to it.
 * 2. the WAL is made durable through E (the LSN when copying ended) → without this a crash
 *    could recover the image with effects of commits that the WAL then lacks.
 * 3. header rewritten with E and the section count, fsync, rename to `<E>.snap`, directory
 *    fsync → a crash before the directory fsync may lose the name; the manifest does not name
 *    it yet, so recovery uses the previous snapshot.
 * 4. the caller updates the manifest (manifest.ts) → only then does the snapshot count.
 */
import { encode } from '@msgpack/msgpack';
import { deflateSync } from 'fflate';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { assert } from '../assert.js';
import { ByteWriter } from '../encoding/bytes.js';
import type { Storage, StorageFile } from '../storage/storage.js';
import type { StoredComponent } from '../meta/meta-file.js';
import type { NumericArray } from '../schema/types.js';
import type { World } from '../world/world.js';
import {
  COMPRESSION_DEFLATE,
  COMPRESSION_NONE,
  SECTION_KIND,
  SNAPSHOT_FLAG_INCREMENTAL,
  SECTION_HEADER_SIZE_BYTES,
  SNAPSHOT_HEADER_SIZE_BYTES,
  encodeSectionHeader,
  writeSectionHeader,
  encodeSnapshotHeader,
  snapshotFileName,
  snapshotTempFileName,
  type SectionHeader,
  type SectionKind,
} from './format.js';
import type { SnapshotEntry } from './manifest.js';
import type { DataCipher } from '../crypto/cipher.js';
import { SNAPSHOT_FLAG_ENCRYPTED } from '../crypto/format.js';

export interface SnapshotSource {
  readonly world: World;
  readonly schema: readonly StoredComponent[];
  /** The LSN of the last commit. */
  currentLsn(): number;
  /** Resolves once every commit so far is durable in the WAL. */
  makeDurable(): Promise<void>;
}

export interface SnapshotWriterOptions {
  readonly storage: Storage;
  readonly snapshotsDir: string;
  readonly databaseId: Uint8Array;
  readonly compress: boolean;
  readonly chunkSlots: number;
  readonly now: () => number;
  /** Gives commits a turn between chunks. */
  readonly yieldToCommits: () => Promise<void>;
  /**
   * For an incremental snapshot, the snapshot it builds on: only chunks marked in the world's
   * dirty chunks are written. Undefined for a full snapshot.
   */
  readonly base: SnapshotEntry | undefined;
  /** Seals every section (src/crypto/format.ts); undefined: sections in the clear. */
  readonly cipher?: DataCipher;
  /**
   * The buffer chunks are encoded into, kept by the caller from one snapshot to the next (one
   * snapshot writes at a time) so that it has grown to a chunk's size already: growing it anew
   * each snapshot zeroed and copied ~2 MiB on the main thread in the first chunk's step (W5).
   * It keeps the size of the largest chunk so far (~1 MiB for 16,384 slots of W5's world) for
   * the database's life. Undefined: a fresh one. Whatever it holds is discarded at the start.
   */
  readonly chunkBuffer?: ByteWriter;
  /** With `compress`: the buffer a chunk is copied into before it is deflated; kept like `chunkBuffer`. */
  readonly stagingBuffer?: ByteWriter;
}

export interface SnapshotStats {
  readonly entry: SnapshotEntry;
  /** The longest synchronous step on the main thread (copying and checksumming one chunk). */
  readonly longestStepMs: number;
  readonly chunkCount: number;
}

interface Section {
  readonly kind: SectionKind;
  readonly componentIndex: number;
  readonly fieldIndex: number;
  readonly firstSlot: number;
  readonly slotCount: number;
  readonly raw: Uint8Array;
}

export async function writeSnapshot(source: SnapshotSource, options: SnapshotWriterOptions): Promise<SnapshotStats> {
  const { storage, snapshotsDir, now } = options;
  const startLsn = source.currentLsn();
  const createdAtMs = now();
  const tempPath = join(snapshotsDir, snapshotTempFileName(startLsn, createdAtMs));
  const file = await storage.open(tempPath, 'create');
  let longestStepMs = 0;
  let chunkCount = 0;
  const base = options.base;
  const flags = (base === undefined ? 0 : SNAPSHOT_FLAG_INCREMENTAL) | (options.cipher === undefined ? 0 : SNAPSHOT_FLAG_ENCRYPTED);
  try {
    const sealing = options.cipher === undefined ? undefined : { cipher: options.cipher, file: { startLsn, createdAtMs, flags } };
    const writer = new SectionWriter(file, options.compress, sealing, options.chunkBuffer ?? new ByteWriter(64 * 1024), options.stagingBuffer);
    await file.write(new Uint8Array(SNAPSHOT_HEADER_SIZE_BYTES), 0); // rewritten once complete
    const world = source.world;
    const highWater = world.registry.highWater;
    assert(base === undefined || world.dirtyChunks?.chunkSlots === options.chunkSlots, 'incremental snapshot needs dirty tracking by chunk');
    await writer.write(schemaSection(source.schema, highWater, options.chunkSlots, base?.file));
    for (let firstSlot = 0; firstSlot < highWater; firstSlot += options.chunkSlots) {
      const stepStartMs = performance.now();
      const chunk = firstSlot / options.chunkSlots;
      // The sections' bytes are views of the live columns: they are copied into the writer's
      // chunk buffer (with compress, its staging buffer) in this same synchronous step, which is
      // what makes the chunk consistent.
      const sections = captureChunk(world, firstSlot, Math.min(highWater, firstSlot + options.chunkSlots), chunk, base !== undefined);
      if (options.compress) {
        // Deflated in the turns after this one, one section per turn.
        const staged = writer.stage(sections);
        longestStepMs = Math.max(longestStepMs, performance.now() - stepStartMs);
        longestStepMs = Math.max(longestStepMs, await writer.encodeStaged(staged, options.yieldToCommits));
      } else {
        for (const section of sections) writer.encode(section);
        longestStepMs = Math.max(longestStepMs, performance.now() - stepStartMs);
      }
      // One write per chunk: each awaited write costs the game loop an event-loop turn.
      await writer.flush();
      chunkCount++;
      await options.yieldToCommits();
    }
    const endLsn = source.currentLsn();
    await source.makeDurable();
    // Sealed, the end section binds the end LSN (and, by its index, the section count) to the key.
    await writer.write({ kind: SECTION_KIND.end, componentIndex: 0, fieldIndex: 0, firstSlot: 0, slotCount: 0, raw: new Uint8Array(0) }, endLsn);
    const header = encodeSnapshotHeader({
      databaseId: options.databaseId,
      startLsn,
      endLsn,
      createdAtMs,
      sectionCount: writer.sectionCount,
      flags,
    });
    await file.write(header, 0);
    await file.sync();
    await file.close();
    const name = snapshotFileName(endLsn);
    await storage.rename(tempPath, join(snapshotsDir, name));
    await storage.syncDirectory(snapshotsDir);
    const entry: SnapshotEntry = { file: name, startLsn, endLsn, createdAtMs, sizeBytes: writer.position, ...(base === undefined ? {} : { base: base.file }) };
    return { entry, longestStepMs, chunkCount };
  } catch (error) {
    await file.close().catch(() => undefined);
    await storage.unlink(tempPath).catch(() => undefined);
    throw error;
  }
}

function schemaSection(schema: readonly StoredComponent[], highWater: number, chunkSlots: number, base: string | undefined): Section {
  const raw = encode({ schema: schema.map((c) => ({ name: c.name, fields: c.fields.map((f) => ({ ...f })) })), highWater, chunkSlots, base: base ?? null });
  return { kind: SECTION_KIND.schema, componentIndex: 0, fieldIndex: 0, firstSlot: 0, slotCount: highWater, raw };
}

/**
 * The arrays of the slots [from, to) at this instant, as views of the live arrays (a copy only
 * where a table's columns end before `to`): the caller copies them out in the same synchronous
 * step, which makes the chunk one consistent slice of the world. With `onlyDirty`, only the
 * registry and tables whose chunk changed since it was last copied; either way the dirty flags
 * of what is returned are cleared in this same step.
 */
function captureChunk(world: World, from: number, to: number, chunk: number, onlyDirty: boolean): Section[] {
  const count = to - from;
  const registry = world.registry;
  const dirty = world.dirtyChunks;
  const sections: Section[] = [];
  const registryDirty = dirty === undefined || dirty.takeRegistry(chunk);
  if (!onlyDirty || registryDirty) {
    sections.push(
      sectionOf(SECTION_KIND.generations, 0, 0, from, count, bytesOf(registry.generations.subarray(from, to))),
      sectionOf(SECTION_KIND.alive, 0, 0, from, count, registry.alive.subarray(from, to)),
    );
  }
  for (const table of world.tables) {
    const tableDirty = dirty === undefined || dirty.takeTable(table.index, chunk);
    if (onlyDirty && !tableDirty) continue;
    sections.push(sectionOf(SECTION_KIND.present, table.index, 0, from, count, sliceOrZeros(table.present, from, to, table.capacity)));
    for (const field of table.fields) {
      const column = table.columnList[field.index];
      if (Array.isArray(column)) {
        const strings: string[] = [];
        for (let slot = from; slot < to; slot++) strings.push(slot < table.capacity ? column[slot] : '');
        sections.push(sectionOf(SECTION_KIND.strings, table.index, field.index, from, count, encode(strings)));
      } else {
        sections.push(sectionOf(SECTION_KIND.column, table.index, field.index, from, count, columnChunk(column, field.stride, from, to, table.capacity)));
      }
    }
  }
  // The last chunk stops at the high-water mark the snapshot started with. Slots created in it
  // since then were not copied, yet their changes' flags were just cleared with the chunk's:
  // mark the chunk again, or the next incremental snapshot would leave those slots out.
  if (dirty !== undefined && world.registry.highWater > to && to % dirty.chunkSlots !== 0) {
    dirty.markSlot(to);
    for (const table of world.tables) dirty.markCell(table.index, to);
  }
  return sections;
}

/**
 * A section, always built here with every property in the same order: one object shape for all.
 * A spread that adds properties (`{ ...base, kind, raw }`) gave each object a hidden class of its
 * own, made in the old generation and pointing at young data, so a scavenge kept 2.5–3.7 MB of
 * dead chunks' objects alive (W5: 2–8 ms scavenges once a second; docs/performance.md).
 */
function sectionOf(kind: SectionKind, componentIndex: number, fieldIndex: number, firstSlot: number, slotCount: number, raw: Uint8Array): Section {
  return { kind, componentIndex, fieldIndex, firstSlot, slotCount, raw };
}

function bytesOf(array: NumericArray): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

function sliceOrZeros(array: Uint8Array, from: number, to: number, capacity: number): Uint8Array {
  if (to <= capacity) return array.subarray(from, to);
  const chunk = new Uint8Array(to - from);
  if (from < capacity) chunk.set(array.subarray(from, capacity));
  return chunk;
}

function columnChunk(column: NumericArray, stride: number, from: number, to: number, capacity: number): Uint8Array {
  if (to <= capacity) return bytesOf(column.subarray(from * stride, to * stride));
  const Constructor = column.constructor as { new (length: number): NumericArray };
  const chunk = new Constructor((to - from) * stride);
  if (from < capacity) chunk.set(column.subarray(from * stride, capacity * stride));
  return bytesOf(chunk);
}

/**
 * Appends sections (header + payload) to the temp file, tracking their count and the position.
 * Sections are encoded into one chunk buffer, reused for every chunk (the world's columns are
 * copied straight into it), so a snapshot allocates next to nothing per chunk: allocating each
 * chunk's copies anew (~2 MB per chunk of a 1 M-entity world) made V8 run major collections of
 * 10+ ms on the game loop's thread.
 */
class SectionWriter {
  sectionCount = 0;
  position = SNAPSHOT_HEADER_SIZE_BYTES;
  readonly #chunk: ByteWriter;
  readonly #staging: ByteWriter;

  constructor(
    private readonly file: StorageFile,
    private readonly compress: boolean,
    private readonly sealing: { readonly cipher: DataCipher; readonly file: { startLsn: number; createdAtMs: number; flags: number } } | undefined,
    chunk: ByteWriter,
    staging: ByteWriter = new ByteWriter(64 * 1024),
  ) {
    // A snapshot that failed in a write left its chunk in the buffer.
    chunk.reset();
    this.#chunk = chunk;
    this.#staging = staging;
  }

  /**
   * Copies the sections' bytes (views of the live world) into the staging buffer, in the caller's
   * synchronous step: what `encodeStaged` deflates later is the chunk as it was at this instant.
   */
  stage(sections: readonly Section[]): Section[] {
    const staging = this.#staging;
    staging.reset();
    let total = 0;
    for (const section of sections) total += section.raw.length;
    staging.ensure(total); // once, so that the views below all point into the same buffer
    const staged: Section[] = [];
    for (const section of sections) {
      const start = staging.length;
      staging.bytes.set(section.raw, start);
      staging.length += section.raw.length;
      staged.push(sectionOf(section.kind, section.componentIndex, section.fieldIndex, section.firstSlot, section.slotCount, staging.bytes.subarray(start, staging.length)));
    }
    return staged;
  }

  /**
   * Encodes staged sections into the chunk buffer, one per event-loop turn (`between()` is
   * awaited before each): a step deflates one section, `chunkSlots` values of one field. Whole
   * sections, with deflateSync: fflate 0.8.3's streaming Deflate, which could split a section
   * further, emits invalid distances for some inputs (fflate issue #260; the crash property test
   * found it here). Resolves with the longest step.
   */
  async encodeStaged(staged: readonly Section[], between: () => Promise<void>): Promise<number> {
    let longestMs = 0;
    for (const section of staged) {
      await between();
      const startMs = performance.now();
      this.encode(section);
      longestMs = Math.max(longestMs, performance.now() - startMs);
    }
    return longestMs;
  }

  /** Adds a section to the chunk buffer (`endLsn` only for the end section); `flush` writes it. */
  encode(section: Section, endLsn?: number): void {
    assert(section.raw.length <= 0xffff_ffff, 'snapshot section over 4 GiB');
    const compressed = this.compress && section.raw.length > 64;
    let stored = compressed ? deflateSync(section.raw, { level: 1 }) : section.raw;
    // One literal with every field (no spread: see sectionOf); the stored size and checksum are
    // filled in once the stored bytes are known.
    const header: { -readonly [K in keyof SectionHeader]: SectionHeader[K] } = {
      storedSizeBytes: 0,
      crc: 0,
      rawSizeBytes: section.raw.length,
      kind: section.kind,
      compression: compressed ? COMPRESSION_DEFLATE : COMPRESSION_NONE,
      componentIndex: section.componentIndex,
      fieldIndex: section.fieldIndex,
      firstSlot: section.firstSlot,
      slotCount: section.slotCount,
    };
    if (this.sealing !== undefined) {
      // Compress first, then seal: ciphertext does not compress. The AAD holds the header's
      // fields after the stored length and checksum (zero here), which describe the sealed bytes.
      const { cipher, file } = this.sealing;
      const aad = cipher.snapshotSectionAad(file, this.sectionCount, encodeSectionHeader(header), endLsn);
      stored = cipher.seal(stored, aad);
    }
    header.storedSizeBytes = stored.length;
    header.crc = crc32(stored);
    const chunk = this.#chunk;
    chunk.ensure(SECTION_HEADER_SIZE_BYTES + stored.length);
    writeSectionHeader(chunk.view, chunk.length, header);
    chunk.bytes.set(stored, chunk.length + SECTION_HEADER_SIZE_BYTES);
    chunk.length += SECTION_HEADER_SIZE_BYTES + stored.length;
    this.sectionCount++;
  }

  /** Writes the sections encoded since the last flush; the chunk buffer is free again once this resolves. */
  async flush(): Promise<void> {
    const chunk = this.#chunk;
    const bytes = chunk.bytes.subarray(0, chunk.length);
    await this.file.write(bytes, this.position);
    this.position += bytes.length;
    chunk.reset();
  }

  async write(section: Section, endLsn?: number): Promise<void> {
    this.encode(section, endLsn);
    await this.flush();
  }
}
