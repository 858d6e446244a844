/**
 * Reading a snapshot into a fresh world. Every length, index and slot range is checked against
 * the file and the schema before it sizes or addresses anything, every section's checksum is
 * verified, and the sections must cover every slot of every array exactly once. Damage raises
 * CORRUPT_SNAPSHOT naming the file and byte offset; the caller then discards the world and
 * falls back to an older snapshot.
 */
import { decode } from '@msgpack/msgpack';
import { inflateSync } from 'fflate';
import { crc32 } from 'node:zlib';
import { EcsdbError } from '../errors.js';
import type { StoredComponent } from '../meta/meta-file.js';
import { TYPED_ARRAY_OF, type NumericArray } from '../schema/types.js';
import { GENERATION_MAX, SLOT_COUNT_MAX } from '../world/entity-id.js';
import { addMembershipBulk, addSlotsToEmptyWorld } from '../world/membership.js';
import { ensureTableCapacity } from '../world/table.js';
import type { World } from '../world/world.js';
import {
  COMPRESSION_DEFLATE,
  COMPRESSION_NONE,
  SECTION_HEADER_SIZE_BYTES,
  SECTION_KIND,
  SECTION_RAW_SIZE_BYTES_MAX,
  SNAPSHOT_FLAG_INCREMENTAL,
  SNAPSHOT_FORMAT_VERSION,
  SNAPSHOT_HEADER_SIZE_BYTES,
  decodeSectionHeader,
  decodeSnapshotHeader,
  type SectionHeader,
  type SnapshotHeader,
} from './format.js';

export interface LoadedSnapshot {
  readonly header: SnapshotHeader;
  readonly highWater: number;
}

class Damage extends Error {
  constructor(
    readonly offset: number,
    what: string,
  ) {
    super(what);
  }
}

/** One snapshot file of a chain: its bytes and its name (for messages). */
export interface SnapshotFile {
  readonly bytes: Uint8Array;
  readonly path: string;
}

/**
 * Reads a snapshot chain into `world`, which must be fresh: a full snapshot, then each
 * incremental one built on the one before it, each overriding the chunks it holds. The header
 * returned is the last one's (its start LSN is where WAL replay begins).
 */
export function loadSnapshot(world: World, chain: readonly SnapshotFile[], databaseId: Uint8Array, schema: readonly StoredComponent[]): LoadedSnapshot {
  const loader = new ImageLoader(world, schema);
  let header: SnapshotHeader | undefined;
  let end = 0;
  chain.forEach((file, index) => {
    try {
      const previous = index === 0 ? undefined : chain[index - 1].path;
      header = loadFile(loader, file, databaseId, previous);
      end = file.bytes.length;
    } catch (error) {
      throw asCorruptSnapshot(error, file.path);
    }
  });
  try {
    loader.finish(end);
  } catch (error) {
    throw asCorruptSnapshot(error, chain[chain.length - 1].path);
  }
  return { header: header!, highWater: loader.highWater };
}

/**
 * What a snapshot file says about itself, without loading it: its LSNs and the file it builds on
 * (from the schema section, whose checksum is verified). For finding snapshots when the MANIFEST
 * is damaged: an incremental snapshot can then still be loaded over its chain. undefined when
 * the header or the schema section is damaged (loading the file then reports where).
 */
export function readSnapshotIdentity(bytes: Uint8Array): { startLsn: number; endLsn: number; createdAtMs: number; base: string | undefined } | undefined {
  const header = decodeSnapshotHeader(bytes);
  if (typeof header === 'string' || header.sectionCount === 0 || bytes.length < SNAPSHOT_HEADER_SIZE_BYTES + SECTION_HEADER_SIZE_BYTES) return undefined;
  try {
    const section = decodeSectionHeader(bytes, SNAPSHOT_HEADER_SIZE_BYTES);
    if (section.kind !== SECTION_KIND.schema) return undefined;
    const value = decode(sectionPayload(bytes, SNAPSHOT_HEADER_SIZE_BYTES, section)) as { base?: unknown } | null;
    const base = value?.base ?? undefined;
    if (base !== undefined && typeof base !== 'string') return undefined;
    return { startLsn: header.startLsn, endLsn: header.endLsn, createdAtMs: header.createdAtMs, base };
  } catch {
    return undefined; // a damaged schema section or payload: loading the file says where
  }
}

function asCorruptSnapshot(error: unknown, path: string): unknown {
  if (!(error instanceof Damage)) return error;
  return new EcsdbError('CORRUPT_SNAPSHOT', `snapshot ${path} is damaged at byte offset ${error.offset}: ${error.message}`, {
    cause: error,
    file: path,
    offset: error.offset,
  });
}

/** Reads one file of the chain; `basePath` is the file it must build on (undefined: it must be full). */
function loadFile(loader: ImageLoader, file: SnapshotFile, databaseId: Uint8Array, basePath: string | undefined): SnapshotHeader {
  const bytes = file.bytes;
  const header = decodeSnapshotHeader(bytes);
  if (typeof header === 'string') throw new Damage(0, header);
  if (header.formatVersion !== SNAPSHOT_FORMAT_VERSION) {
    throw new EcsdbError(
      'FORMAT_VERSION_UNSUPPORTED',
      `snapshot ${file.path} has format version ${header.formatVersion}; this ecsdb reads version ${SNAPSHOT_FORMAT_VERSION}`,
      { file: file.path, offset: 8 },
    );
  }
  if (Buffer.compare(Buffer.from(header.databaseId), Buffer.from(databaseId)) !== 0) throw new Damage(12, 'it belongs to another database');
  if (header.startLsn > header.endLsn) throw new Damage(28, `start LSN ${header.startLsn} is after end LSN ${header.endLsn}`);
  const incremental = (header.flags & SNAPSHOT_FLAG_INCREMENTAL) !== 0;
  if (incremental !== (basePath !== undefined)) {
    throw new Damage(10, incremental ? 'an incremental snapshot cannot start a chain' : 'a full snapshot inside a chain');
  }
  if (header.sectionCount * SECTION_HEADER_SIZE_BYTES > bytes.length - SNAPSHOT_HEADER_SIZE_BYTES) {
    throw new Damage(52, `section count ${header.sectionCount} does not fit the file`);
  }
  loader.beginFile(basePath);
  let offset = SNAPSHOT_HEADER_SIZE_BYTES;
  for (let index = 0; index < header.sectionCount; index++) {
    if (bytes.length - offset < SECTION_HEADER_SIZE_BYTES) throw new Damage(offset, 'section header runs past the end of the file');
    const section = decodeSectionHeader(bytes, offset);
    checkUnusedFields(bytes, offset, section);
    const raw = sectionPayload(bytes, offset, section);
    const isLast = index === header.sectionCount - 1;
    if ((section.kind === SECTION_KIND.end) !== isLast) throw new Damage(offset, isLast ? 'the last section is not the end marker' : 'end marker before the last section');
    if ((section.kind === SECTION_KIND.schema) !== (index === 0)) throw new Damage(offset, 'the schema section must come first, once');
    loader.section(section, raw, offset);
    offset += SECTION_HEADER_SIZE_BYTES + section.storedSizeBytes;
  }
  if (offset !== bytes.length) throw new Damage(offset, `${bytes.length - offset} bytes after the end marker`);
  if (!incremental) loader.checkCoverage(offset);
  return header;
}

/**
 * Section headers have no checksum of their own, so every field a kind does not use must hold
 * what the writer puts there (0; the schema section's slot count is checked against its high-
 * water mark later). Then no byte of a snapshot can change without the reader noticing.
 */
function checkUnusedFields(bytes: Uint8Array, offset: number, section: SectionHeader): void {
  if (bytes[offset + 14] !== 0 || bytes[offset + 15] !== 0) throw new Damage(offset + 14, 'reserved section header bytes are not 0');
  const { kind } = section;
  const usesComponent = kind === SECTION_KIND.present || kind === SECTION_KIND.column || kind === SECTION_KIND.strings;
  const usesField = kind === SECTION_KIND.column || kind === SECTION_KIND.strings;
  if (!usesComponent && section.componentIndex !== 0) throw new Damage(offset + 16, `a section of kind ${kind} has component index ${section.componentIndex}, not 0`);
  if (!usesField && section.fieldIndex !== 0) throw new Damage(offset + 20, `a section of kind ${kind} has field index ${section.fieldIndex}, not 0`);
  if ((kind === SECTION_KIND.schema || kind === SECTION_KIND.end) && section.firstSlot !== 0) throw new Damage(offset + 24, `a section of kind ${kind} has first slot ${section.firstSlot}, not 0`);
  if (kind === SECTION_KIND.end && (section.slotCount !== 0 || section.storedSizeBytes !== 0 || section.rawSizeBytes !== 0 || section.compression !== COMPRESSION_NONE)) {
    throw new Damage(offset, 'the end marker is not empty');
  }
}

/** Deflate cannot expand data by more than about 1032:1; a raw length beyond that is a lie. */
const DEFLATE_RATIO_MAX = 1032;

function sectionPayload(bytes: Uint8Array, offset: number, section: SectionHeader): Uint8Array {
  const start = offset + SECTION_HEADER_SIZE_BYTES;
  if (section.storedSizeBytes > bytes.length - start) throw new Damage(offset, `section length ${section.storedSizeBytes} runs past the end of the file`);
  if (section.rawSizeBytes > SECTION_RAW_SIZE_BYTES_MAX) throw new Damage(offset + 8, `section raw length ${section.rawSizeBytes} is implausible`);
  // Checked before the output buffer is allocated: the raw length is under no checksum, and a
  // damaged one must not make the reader allocate up to SECTION_RAW_SIZE_BYTES_MAX.
  if (section.compression === COMPRESSION_DEFLATE && section.rawSizeBytes > section.storedSizeBytes * DEFLATE_RATIO_MAX + 64) {
    throw new Damage(offset + 8, `section raw length ${section.rawSizeBytes} is more than deflate can make of ${section.storedSizeBytes} stored bytes`);
  }
  const stored = bytes.subarray(start, start + section.storedSizeBytes);
  if (crc32(stored) !== section.crc) throw new Damage(offset + 4, 'section checksum mismatch');
  if (section.compression === COMPRESSION_NONE) {
    if (stored.length !== section.rawSizeBytes) throw new Damage(offset + 8, 'raw length differs from stored length of an uncompressed section');
    return stored;
  }
  if (section.compression !== COMPRESSION_DEFLATE) throw new Damage(offset + 13, `unknown compression ${section.compression}`);
  let raw: Uint8Array;
  try {
    raw = inflateSync(stored, { out: new Uint8Array(section.rawSizeBytes) });
  } catch (error) {
    throw new Damage(start, `compressed data is invalid (${(error as Error).message})`);
  }
  if (raw.length !== section.rawSizeBytes) throw new Damage(offset + 8, `inflates to ${raw.length} bytes, not ${section.rawSizeBytes}`);
  return raw;
}

/** Assembles the sections into the world, tracking which slots of which arrays are covered. */
class ImageLoader {
  highWater = -1;
  private generations = new Uint32Array(0);
  private alive = new Uint8Array(0);
  /** Slots covered so far in the current file, per array key ("g", "a", "p<c>", "f<c>.<f>"). */
  private readonly covered = new Map<string, number>();
  /** End of the last chunk received in the current file, per array key. */
  private readonly coveredEnd = new Map<string, number>();
  /** The chunk size the current file was written with. */
  private chunkSlots = 1;
  /** The file name the current file must name as its base (undefined for a full snapshot). */
  private expectedBase: string | undefined;

  beginFile(basePath: string | undefined): void {
    this.expectedBase = basePath === undefined ? undefined : basePath.slice(-25);
    this.covered.clear();
    this.coveredEnd.clear();
  }

  constructor(
    private readonly world: World,
    private readonly schema: readonly StoredComponent[],
  ) {}

  section(section: SectionHeader, raw: Uint8Array, offset: number): void {
    if (section.kind === SECTION_KIND.schema) return this.schemaSection(raw, offset, section.slotCount);
    if (section.kind === SECTION_KIND.end) return;
    const { firstSlot, slotCount } = section;
    if (firstSlot + slotCount > this.highWater) throw new Damage(offset + 24, `slots ${firstSlot}+${slotCount} exceed the high-water mark ${this.highWater}`);
    switch (section.kind) {
      case SECTION_KIND.generations:
        this.cover('g', firstSlot, slotCount, offset);
        this.generations.set(typedView(Uint32Array, raw, slotCount, offset), firstSlot);
        return;
      case SECTION_KIND.alive:
        this.cover('a', firstSlot, slotCount, offset);
        this.alive.set(expectLength(raw, slotCount, offset), firstSlot);
        return;
      case SECTION_KIND.present: {
        const table = this.tableAt(section.componentIndex, offset);
        this.cover(`p${table.index}`, firstSlot, slotCount, offset);
        table.present.set(expectLength(raw, slotCount, offset), firstSlot);
        return;
      }
      case SECTION_KIND.column:
      case SECTION_KIND.strings:
        return this.fieldSection(section, raw, offset);
      default:
        throw new Damage(offset + 12, `unknown section kind ${section.kind}`);
    }
  }

  private schemaSection(raw: Uint8Array, offset: number, slotCount: number): void {
    let value: { schema?: unknown; highWater?: unknown; base?: unknown; chunkSlots?: unknown };
    try {
      value = decode(raw) as typeof value;
    } catch {
      throw new Damage(offset + SECTION_HEADER_SIZE_BYTES, 'schema section is not MessagePack');
    }
    if (JSON.stringify(value?.schema) !== JSON.stringify(this.schema)) {
      throw new Damage(offset + SECTION_HEADER_SIZE_BYTES, 'its schema differs from the database schema');
    }
    const highWater = value.highWater;
    if (typeof highWater !== 'number' || !Number.isSafeInteger(highWater) || highWater < 0 || highWater > SLOT_COUNT_MAX) {
      throw new Damage(offset + SECTION_HEADER_SIZE_BYTES, `high-water mark ${String(highWater)} out of range`);
    }
    const chunkSlots = value.chunkSlots;
    if (typeof chunkSlots !== 'number' || !Number.isSafeInteger(chunkSlots) || chunkSlots < 1 || chunkSlots > SLOT_COUNT_MAX) {
      throw new Damage(offset + SECTION_HEADER_SIZE_BYTES, `chunk size ${String(chunkSlots)} out of range`);
    }
    this.chunkSlots = chunkSlots;
    if ((value.base ?? undefined) !== this.expectedBase) {
      throw new Damage(offset + SECTION_HEADER_SIZE_BYTES, `it builds on ${String(value.base)}, expected ${String(this.expectedBase ?? null)}`);
    }
    if (highWater < this.highWater) throw new Damage(offset + SECTION_HEADER_SIZE_BYTES, `high-water mark ${highWater} is below its base's ${this.highWater}`);
    if (slotCount !== highWater) throw new Damage(offset + 28, `the schema section's slot count ${slotCount} differs from its high-water mark ${highWater}`);
    const generations = new Uint32Array(highWater);
    const alive = new Uint8Array(highWater);
    generations.set(this.generations);
    alive.set(this.alive);
    this.generations = generations;
    this.alive = alive;
    this.highWater = highWater;
    for (const table of this.world.tables) ensureTableCapacity(table, highWater);
  }

  private fieldSection(section: SectionHeader, raw: Uint8Array, offset: number): void {
    const table = this.tableAt(section.componentIndex, offset);
    const field = table.fields[section.fieldIndex];
    if (field === undefined) throw new Damage(offset + 20, `field index ${section.fieldIndex} is not in ${table.def.name}`);
    const column = table.columnList[field.index];
    this.cover(`f${table.index}.${field.index}`, section.firstSlot, section.slotCount, offset);
    if (Array.isArray(column)) {
      if (section.kind !== SECTION_KIND.strings) throw new Damage(offset + 12, `${table.def.name}.${field.name} is a string field`);
      let strings: unknown;
      try {
        strings = decode(raw);
      } catch {
        throw new Damage(offset + SECTION_HEADER_SIZE_BYTES, 'string section is not MessagePack');
      }
      if (!Array.isArray(strings) || strings.length !== section.slotCount || !strings.every((s) => typeof s === 'string')) {
        throw new Damage(offset + SECTION_HEADER_SIZE_BYTES, `expected ${section.slotCount} strings`);
      }
      for (let i = 0; i < strings.length; i++) column[section.firstSlot + i] = strings[i] as string;
      return;
    }
    if (section.kind !== SECTION_KIND.column) throw new Damage(offset + 12, `${table.def.name}.${field.name} is not a string field`);
    const Constructor = TYPED_ARRAY_OF[field.storage!] as unknown as TypedArrayConstructor<NumericArray>;
    const values = typedView(Constructor, raw, section.slotCount * field.stride, offset);
    (column as NumericArray).set(values, section.firstSlot * field.stride);
  }

  private tableAt(componentIndex: number, offset: number) {
    const table = this.world.tables[componentIndex];
    if (table === undefined) throw new Damage(offset + 16, `component index ${componentIndex} is not in the schema`);
    return table;
  }

  /**
   * Records that an array received the chunk at `firstSlot`. Chunks must be whole, aligned to
   * `chunkSlots`, and arrive in ascending order, each at most once: section headers are not
   * under a checksum of their own, so a damaged first slot must not move data silently.
   */
  private cover(key: string, firstSlot: number, slotCount: number, offset: number): void {
    const chunkSlots = this.chunkSlots;
    const expectedCount = Math.min(chunkSlots, this.highWater - firstSlot);
    if (firstSlot % chunkSlots !== 0 || slotCount !== expectedCount) {
      throw new Damage(offset + 24, `section for slots ${firstSlot}+${slotCount} is not a whole chunk of ${chunkSlots} slots`);
    }
    const end = this.coveredEnd.get(key) ?? 0;
    if (firstSlot < end) throw new Damage(offset + 24, `section for slots ${firstSlot}+${slotCount} repeats or goes back (array ${key} is covered up to ${end})`);
    this.coveredEnd.set(key, firstSlot + slotCount);
    this.covered.set(key, (this.covered.get(key) ?? 0) + slotCount);
  }

  /** A full snapshot must cover every slot of every array exactly once. */
  checkCoverage(offset: number): void {
    const keys = ['g', 'a', ...this.world.tables.flatMap((t) => [`p${t.index}`, ...t.fields.map((f) => `f${t.index}.${f.index}`)])];
    for (const key of keys) {
      if ((this.covered.get(key) ?? 0) !== this.highWater) throw new Damage(offset, `array ${key} covers ${this.covered.get(key) ?? 0} of ${this.highWater} slots`);
    }
  }

  /** Installs the registry and rebuilds membership, after the whole chain is read. */
  finish(offset: number): void {
    const world = this.world;
    for (let slot = 0; slot < this.highWater; slot++) {
      if (this.generations[slot] > GENERATION_MAX + 1) throw new Damage(offset, `slot ${slot} has generation ${this.generations[slot]}`);
      if (this.alive[slot] > 1) throw new Damage(offset, `slot ${slot} has alive flag ${this.alive[slot]}`);
    }
    const tableSlots = world.tables.map((table) => {
      const slots: number[] = [];
      for (let slot = 0; slot < this.highWater; slot++) {
        if (table.present[slot] !== 1) continue;
        if (this.alive[slot] !== 1) throw new Damage(offset, `${table.def.name} present on dead slot ${slot}`);
        slots.push(slot);
      }
      return slots;
    });
    world.registry.importState({ highWater: this.highWater, generations: this.generations, alive: this.alive });
    const liveSlots: number[] = [];
    for (let slot = 0; slot < this.highWater; slot++) if (this.alive[slot] === 1) liveSlots.push(slot);
    addSlotsToEmptyWorld(world.membership, liveSlots);
    world.tables.forEach((table, i) => {
      addMembershipBulk(world.membership, tableSlots[i], table.columns);
      table.count = tableSlots[i].length;
    });
  }
}

function expectLength(raw: Uint8Array, length: number, offset: number): Uint8Array {
  if (raw.length !== length) throw new Damage(offset + 8, `expected ${length} bytes, found ${raw.length}`);
  return raw;
}

type TypedArrayConstructor<T> = { new (buffer: ArrayBuffer, offset: number, length: number): T; readonly BYTES_PER_ELEMENT: number };

/** The raw bytes as a typed array of `count` elements (copied when unaligned). */
function typedView<T extends NumericArray>(Constructor: TypedArrayConstructor<T>, raw: Uint8Array, count: number, offset: number): T {
  const width = Constructor.BYTES_PER_ELEMENT;
  if (raw.length !== count * width) throw new Damage(offset + 8, `expected ${count * width} bytes, found ${raw.length}`);
  const aligned = raw.byteOffset % width === 0 ? raw : raw.slice();
  return new Constructor(aligned.buffer as ArrayBuffer, aligned.byteOffset, count);
}
