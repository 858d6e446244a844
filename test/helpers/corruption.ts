/**
 * Corruption of a database directory's files, for the fuzz tests: the mutations (bit flips,
 * random bytes, zeroed and random runs, truncation, appended garbage, and length fields that
 * lie: a WAL record length of 2^31, a snapshot section running past the file, a frame length
 * beyond the file), the base directories they start from (built once on the simulated storage,
 * cloned per case), and the oracle that says what a damaged directory may legally open to.
 *
 * The oracle, precisely: every WAL record of the undamaged directory is known (file, offset,
 * bytes, LSN). After damage, a record is still *proven* when its bytes are unchanged at its
 * offset (for a compressed archive: in the inflated bytes). A directory that opens must hold
 * exactly the model's world at the LSN it recovered, and that LSN must be at least the highest
 * proven one: only records the damage destroyed may be lost, never a record whose bytes survive,
 * with one exception the format cannot avoid: damage within the last write of the last live
 * segment (no intact record after it starts a write) may become a torn-tail cut, taking that
 * write's later records with it, because a write into preallocated space may reach the disk in
 * any order (src/wal/format.ts, version 4). Anything else must be refused with an EcsdbError
 * naming a damaged file (EcsdbError.file) and an offset in it.
 */
import { inflateSync } from 'fflate';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { EcsdbError, type Database, type OpenOptions } from '../../src/index.js';
import { createRandom, randomInt, type Random } from '../../src/storage/random.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { RECORD_HEADER_SIZE_BYTES, RECORD_KIND_TIME, recordKindAt, recordStartsWrite } from '../../src/wal/format.js';
import { SMALL_WAL, appendToFile, openFixture, patchFile, readBytes, recordStarts, truncateFile, type DirFixture } from './db-dir.js';
import {
  HERMETIC,
  MANUAL_SNAPSHOTS,
  SECTION_HEADER_BYTES,
  bulkThenWorkload,
  canonical,
  modelDumpsOf,
  snapshotSections,
} from './snapshot-dir.js';
import { WORKLOAD_COMPONENTS, dumpDatabase } from './workload.js';

/** Damages the file at `path`; returns what it did, for the failure message. */
export type Mutation = (files: Storage, path: string, random: Random) => Promise<string>;

const sizeOf = async (files: Storage, path: string): Promise<number> => (await files.stat(path))!.sizeBytes;

/** A little-endian u32 as bytes. */
function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value >>> 0, true);
  return bytes;
}

export const flipBit: Mutation = async (files, path, random) => {
  const bytes = await readBytes(files, path);
  const position = randomInt(random, bytes.length);
  const bit = randomInt(random, 8);
  await patchFile(files, path, position, new Uint8Array([bytes[position] ^ (1 << bit)]));
  return `bit ${bit} flipped at ${position}`;
};

/**
 * Length fields no checksum covers, each set to a lie: a WAL record's payload length, a
 * snapshot section's stored or raw length, a framed file's (MANIFEST, ecsdb.meta) payload length.
 * Lies are huge (2^31, 2^32-1, 1 GiB), just past the file, or off by one.
 */
export const lyingLength: Mutation = async (files, path, random) => {
  const bytes = await readBytes(files, path);
  const pickLie = (honest: number, roomBytes: number): number => {
    const lies = [2 ** 31, 2 ** 32 - 1, 2 ** 30, 256 * 1024 * 1024, roomBytes + 1, honest + 1, Math.max(0, honest - 1), 0];
    return lies[randomInt(random, lies.length)];
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at: number;
  let what: string;
  if (/\.wal$/.test(path) && bytes.length > 40) {
    const starts = recordStarts(bytes).filter((start) => start + RECORD_HEADER_SIZE_BYTES <= bytes.length);
    if (starts.length === 0) return flipBit(files, path, random);
    at = starts[randomInt(random, starts.length)];
    what = 'record length';
  } else if (path.endsWith('.snap') && bytes.length >= 64 + SECTION_HEADER_BYTES) {
    const sections = snapshotSections(bytes);
    const section = sections[randomInt(random, sections.length)];
    const raw = random() < 0.5;
    at = section.offset + (raw ? 8 : 0);
    what = `section ${raw ? 'raw' : 'stored'} length (kind ${section.kind})`;
  } else if (bytes.length >= 18 && !path.endsWith('.deflate')) {
    at = 10;
    what = 'frame payload length';
  } else {
    return flipBit(files, path, random);
  }
  const lie = pickLie(view.getUint32(at, true), bytes.length - at);
  await patchFile(files, path, at, u32(lie));
  return `${what} at ${at} set to ${lie}`;
};

/** Every mutation, in a fixed order (a case picks one by index, so the order is part of its seed). */
export const MUTATIONS: readonly Mutation[] = [
  flipBit,
  async (files, path, random) => {
    const size = await sizeOf(files, path);
    const positions: number[] = [];
    for (let i = 1 + randomInt(random, 4); i > 0; i--) {
      const position = randomInt(random, size);
      positions.push(position);
      await patchFile(files, path, position, new Uint8Array([randomInt(random, 256)]));
    }
    return `random bytes at ${positions.join(', ')}`;
  },
  // Section headers are under no checksum: the reader must notice a change in every field.
  async (files, path, random) => {
    const bytes = await readBytes(files, path);
    if (!path.endsWith('.snap') || bytes.length < 64 + SECTION_HEADER_BYTES) return flipBit(files, path, random);
    const sections = snapshotSections(bytes);
    const section = sections[randomInt(random, sections.length)];
    const field = randomInt(random, SECTION_HEADER_BYTES);
    const value = randomInt(random, 256);
    await patchFile(files, path, section.offset + field, new Uint8Array([value]));
    return `section header at ${section.offset} (kind ${section.kind}), byte ${field} set to ${value}`;
  },
  async (files, path, random) => {
    const size = await sizeOf(files, path);
    const position = randomInt(random, size);
    const length = 1 + randomInt(random, Math.min(512, size - position));
    await patchFile(files, path, position, new Uint8Array(length));
    return `${length} bytes zeroed at ${position}`;
  },
  async (files, path, random) => {
    const size = await sizeOf(files, path);
    const position = randomInt(random, size);
    const garbage = Uint8Array.from({ length: 1 + randomInt(random, Math.min(64, size - position)) }, () => randomInt(random, 256));
    await patchFile(files, path, position, garbage);
    return `${garbage.length} random bytes at ${position}`;
  },
  async (files, path, random) => {
    const size = await sizeOf(files, path);
    const length = randomInt(random, size);
    await truncateFile(files, path, length);
    return `truncated to ${length} of ${size}`;
  },
  async (files, path, random) => {
    const garbage = Uint8Array.from({ length: 1 + randomInt(random, 64) }, () => randomInt(random, 256));
    await appendToFile(files, path, garbage);
    return `${garbage.length} bytes appended`;
  },
  lyingLength,
];

export type FileKind = 'meta' | 'manifest' | 'snapshot' | 'wal' | 'archive';

/** A file of a base directory as it was built, with the WAL records it holds. */
export interface BaseFile {
  /** Relative to the data directory, as EcsdbError.file names it. */
  readonly file: string;
  readonly path: string;
  readonly kind: FileKind;
  readonly bytes: Uint8Array;
  /** For WAL segments: the bytes records live in (inflated for a `.deflate` archive). */
  readonly content: Uint8Array;
  readonly records: readonly BaseRecord[];
}

export interface CorruptionBaseSpec {
  readonly name: string;
  /** Commit indices after which a snapshot is taken; none for a WAL-only directory. */
  readonly snapshotAfter: readonly number[];
  readonly archiveCompress?: boolean;
  readonly sectionCompress?: boolean;
  readonly fullEvery?: number;
  /** Archived segments kept (0 keeps all, so the WAL still starts at LSN 1). */
  readonly segmentCountMax?: number;
}

export interface CorruptionBase {
  readonly spec: CorruptionBaseSpec;
  readonly dir: string;
  readonly storage: SimulatedStorage;
  readonly options: Partial<OpenOptions>;
  readonly files: readonly BaseFile[];
  readonly lastLsn: number;
  /** The model's world after each LSN (index = LSN), canonical strings and dumps. */
  readonly modelCanonical: readonly string[];
  readonly modelDumps: readonly unknown[][];
}

const BASE_SEED = 83;
const BASE_BULK = 300;
const BASE_COMMITS = 120;
const BASE_FLUSH_EVERY = 5;

export function baseOptions(spec: CorruptionBaseSpec): Partial<OpenOptions> {
  return {
    ...HERMETIC,
    components: WORKLOAD_COMPONENTS,
    wal: SMALL_WAL,
    snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: 256, keep: 2, compress: spec.sectionCompress ?? false, fullEvery: spec.fullEvery ?? 1 },
    archive: { compress: spec.archiveCompress ?? false, segmentCountMax: spec.segmentCountMax ?? 0 },
  };
}

/**
 * Builds a base directory on the simulated storage: 300 entities in one transaction, then the
 * seeded workload, 120 commits, flushed every 5 (several 4 KiB segments), snapshots as the spec
 * says (chunks of 256 slots, the smallest allowed, so two chunks), closed cleanly.
 */
export async function buildCorruptionBase(spec: CorruptionBaseSpec): Promise<CorruptionBase> {
  const storage = new SimulatedStorage({ seed: 5 });
  const fixture: DirFixture = { dir: '/data/db', storage, files: storage, cleanup: async () => {} };
  const options = baseOptions(spec);
  const step = bulkThenWorkload(BASE_SEED, BASE_BULK);
  const db = await openFixture(fixture, options);
  for (let index = 0; index < BASE_COMMITS; index++) {
    db.transact((tx) => step(tx, index));
    if (index % BASE_FLUSH_EVERY === BASE_FLUSH_EVERY - 1) await db.flush();
    if (spec.snapshotAfter.includes(index)) await db.snapshot();
  }
  const lastLsn = db.lsn;
  await db.close();
  const modelDumps = await modelDumpsOf(step, BASE_COMMITS);
  expect(modelDumps.length - 1, 'the model ends at the same LSN').toBe(lastLsn);
  const files = baseFiles(storage, fixture.dir);
  expect(files.filter((f) => f.kind === 'wal').length, `${spec.name}: several live segments`).toBeGreaterThanOrEqual(2);
  if (spec.snapshotAfter.length > 0) expect(files.filter((f) => f.kind === 'archive').length, `${spec.name}: archived segments`).toBeGreaterThanOrEqual(1);
  return { spec, dir: fixture.dir, storage, options, files, lastLsn, modelCanonical: modelDumps.map(canonical), modelDumps };
}

function baseFiles(storage: SimulatedStorage, dir: string): BaseFile[] {
  const files: BaseFile[] = [];
  for (const [path, bytes] of storage.snapshotFiles()) {
    const file = path.slice(dir.length + 1);
    const kind: FileKind | undefined =
      file === 'ecsdb.meta' ? 'meta' : file === 'MANIFEST' ? 'manifest' : file.startsWith('snapshots/') ? 'snapshot' : file.startsWith('wal/') ? 'wal' : file.startsWith('archive/') ? 'archive' : undefined;
    if (kind === undefined || file === 'LOCK') continue;
    const content = file.endsWith('.deflate') ? inflateSync(bytes) : bytes;
    const records = kind === 'wal' || kind === 'archive' ? recordsOf(content) : [];
    files.push({ file, path, kind, bytes: bytes.slice(), content, records });
  }
  return files;
}

/**
 * The records of a segment with the last commit each one proves: a write set its own LSN; a
 * time record (WAL format 2) carries the LSN of the write set after it, so it proves the one before.
 */
function recordsOf(segment: Uint8Array): BaseRecord[] {
  const view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
  return recordStarts(segment).map((start) => {
    const lsn = view.getUint32(start + 8, true) + view.getUint32(start + 12, true) * 2 ** 32;
    const proves = recordKindAt(segment, start) === RECORD_KIND_TIME ? lsn - 1 : lsn;
    return { lsn, proves, start, end: start + RECORD_HEADER_SIZE_BYTES + view.getUint32(start, true), startsWrite: recordStartsWrite(segment, start) };
  });
}

interface BaseRecord {
  readonly lsn: number;
  /** The last commit the record proves durable when it survives. */
  readonly proves: number;
  readonly start: number;
  readonly end: number;
  readonly startsWrite: boolean;
}

/** What a case did to a base directory. */
export interface Corruption {
  readonly storage: SimulatedStorage;
  /** `file: what was done`, for the failure message. */
  readonly description: string;
  /** The files whose meaning changed (bytes differ; for `.deflate`, the inflated bytes). */
  readonly damaged: ReadonlySet<string>;
  /** The highest LSN whose record survives byte for byte (see the header comment). */
  readonly provenLsn: number;
  /**
   * The LSN before the first record of the live WAL that did not survive (the last LSN when
   * all did): what `ecsdb repair`, cutting at the first bad record, must keep at least.
   */
  readonly liveIntactLsn: number;
}

/** Relative weights of the kinds of file a case damages. */
const TARGET_WEIGHTS: readonly [FileKind, number][] = [
  ['wal', 40],
  ['archive', 15],
  ['snapshot', 25],
  ['manifest', 12],
  ['meta', 8],
];

function pickTarget(base: CorruptionBase, random: Random): BaseFile {
  const weighted = TARGET_WEIGHTS.filter(([kind]) => base.files.some((f) => f.kind === kind));
  let roll = random() * weighted.reduce((sum, [, w]) => sum + w, 0);
  let kind = weighted[0][0];
  for (const [k, w] of weighted) {
    if ((roll -= w) < 0) {
      kind = k;
      break;
    }
  }
  const candidates = base.files.filter((f) => f.kind === kind);
  // The last live segment is where torn tails live: give it as many cases as the others together.
  if (kind === 'wal' && random() < 0.5) return candidates[candidates.length - 1];
  return candidates[randomInt(random, candidates.length)];
}

/** Damages a clone of the base: one file, or two (one case in five). Deterministic in `seed`. */
export async function corrupt(base: CorruptionBase, seed: number): Promise<Corruption> {
  const random = createRandom(seed);
  const storage = base.storage.clone();
  const targets = [pickTarget(base, random)];
  if (random() < 0.2) {
    const second = pickTarget(base, random);
    if (second !== targets[0]) targets.push(second);
  }
  const done: string[] = [];
  for (const target of targets) {
    const mutation = MUTATIONS[randomInt(random, MUTATIONS.length)];
    done.push(`${target.file}: ${await mutation(storage, target.path, random)}`);
  }
  const damaged = new Set<string>();
  let provenLsn = 0;
  let liveIntactLsn = base.lastLsn;
  const lastLiveSegment = base.files.filter((file) => file.kind === 'wal').sort((a, b) => (a.file < b.file ? -1 : 1)).at(-1);
  for (const file of base.files) {
    let content: Uint8Array | undefined = file.content;
    if (targets.includes(file)) {
      content = await storage.readFile(file.path);
      if (file.file.endsWith('.deflate')) {
        try {
          content = inflateSync(content);
        } catch {
          content = undefined;
        }
      }
    }
    if (content === undefined || !sameBytes(content, file.content)) damaged.add(file.file);
    const intact = file.records.map((record) => content !== undefined && sameRange(content, file.content, record.start, record.end));
    // In the last live segment, records after the first damaged one prove nothing unless an
    // intact record after it starts a write (see the header).
    const firstDamaged = intact.indexOf(false);
    const lastWriteTorn = file === lastLiveSegment && firstDamaged >= 0 && !file.records.some((record, i) => i > firstDamaged && intact[i] && record.startsWrite);
    for (const [i, record] of file.records.entries()) {
      if (lastWriteTorn && i > firstDamaged) continue;
      if (intact[i] && record.proves > provenLsn) provenLsn = record.proves;
      if (!intact[i] && file.kind === 'wal') liveIntactLsn = Math.min(liveIntactLsn, record.lsn - 1);
    }
    // A live segment without its header loses all of its records.
    if (file.kind === 'wal' && file.records.length > 0 && (content === undefined || !sameRange(content, file.content, 0, 40))) {
      liveIntactLsn = Math.min(liveIntactLsn, file.records[0].lsn - 1);
    }
  }
  return { storage, description: done.join('; '), damaged, provenLsn, liveIntactLsn };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

function sameRange(now: Uint8Array, original: Uint8Array, start: number, end: number): boolean {
  return end <= now.length && Buffer.from(now.buffer, now.byteOffset + start, end - start).equals(Buffer.from(original.buffer, original.byteOffset + start, end - start));
}

/** A failure count of a corruption family, by what went wrong. */
export type Verdict = 'ok' | 'foreign exception' | 'unlocated error' | 'wrong data' | 'data lost' | 'hang';

/**
 * Checks one outcome of opening a damaged directory against the oracle. Returns the verdict
 * and, for the record, the outcome's name (e.g. `opened at 118`, `CORRUPT_WAL`).
 */
export function judgeOpen(base: CorruptionBase, corruption: Corruption, outcome: { db: Database } | { error: unknown }): { verdict: Verdict; outcome: string; why?: string } {
  if ('error' in outcome) {
    const error = outcome.error;
    if (!(error instanceof EcsdbError)) return { verdict: 'foreign exception', outcome: 'foreign', why: String((error as Error)?.stack ?? error) };
    if (error.file === undefined || error.offset === undefined || !Number.isSafeInteger(error.offset) || error.offset < 0) {
      return { verdict: 'unlocated error', outcome: error.code, why: `${error.code} without file and offset: ${error.message}` };
    }
    if (!corruption.damaged.has(error.file)) {
      return { verdict: 'unlocated error', outcome: error.code, why: `${error.code} names ${error.file} @${error.offset}, not a damaged file (${[...corruption.damaged].join(', ')}): ${error.message}` };
    }
    return { verdict: 'ok', outcome: error.code };
  }
  const { db } = outcome;
  const lsn = db.lsn;
  if (lsn < corruption.provenLsn) return { verdict: 'data lost', outcome: `opened at ${lsn}`, why: `opened at LSN ${lsn} although record ${corruption.provenLsn} survives intact` };
  if (lsn > base.lastLsn || canonical(dumpDatabase(db)) !== base.modelCanonical[lsn]) {
    return { verdict: 'wrong data', outcome: `opened at ${lsn}`, why: `the world at LSN ${lsn} differs from the model` };
  }
  return { verdict: 'ok', outcome: lsn === base.lastLsn ? 'opened whole' : 'opened at a cut' };
}

/** Each case's bound: a hang fails the case instead of the whole run (not a timing assertion). */
export const CASE_BOUND_MS = 30_000;

/** `promise`, or a rejection saying it hung once `CASE_BOUND_MS` passed. */
export async function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HangError(`${what} did not settle within ${CASE_BOUND_MS} ms`)), CASE_BOUND_MS);
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

export class HangError extends Error {}

export function fixtureOf(base: CorruptionBase, storage: SimulatedStorage): DirFixture {
  return { dir: base.dir, storage, files: storage, cleanup: async () => {} };
}

/** The base directories the corruption fuzz starts from. */
export const CORRUPTION_BASES: readonly CorruptionBaseSpec[] = [
  { name: 'WAL only', snapshotAfter: [] },
  { name: 'full snapshots, plain archive pruned', snapshotAfter: [39, 79], segmentCountMax: 1 },
  { name: 'compressed sections and archive, whole WAL kept', snapshotAfter: [39, 79], sectionCompress: true, archiveCompress: true },
  { name: 'incremental chain, compressed archive pruned', snapshotAfter: [39, 79], fullEvery: 2, archiveCompress: true, segmentCountMax: 1 },
];

/** Cases in all (ECSDB_FUZZ_CORRUPTION_CASES), shared by the bases. */
export const CORRUPTION_CASES = Number(process.env.ECSDB_FUZZ_CORRUPTION_CASES ?? 9_700);

export function casesPerBase(baseIndex: number): number {
  const share = Math.floor(CORRUPTION_CASES / CORRUPTION_BASES.length);
  return baseIndex < CORRUPTION_CASES % CORRUPTION_BASES.length ? share + 1 : share;
}

const SEEDS_PER_BASE = 10_000_000;

/** The seed of a case: it encodes the base and the case index, so one number replays it. */
export function caseSeed(baseIndex: number, caseIndex: number): number {
  return (baseIndex + 1) * SEEDS_PER_BASE + caseIndex;
}

export function replaySeed(text: string | undefined): { baseIndex: number; caseIndex: number } | undefined {
  if (text === undefined || text === '') return undefined;
  const seed = Number(text);
  return { baseIndex: Math.floor(seed / SEEDS_PER_BASE) - 1, caseIndex: seed % SEEDS_PER_BASE };
}

/**
 * Writes the files of a (damaged) clone of `base` under a fresh temporary directory, for the
 * commands that work on real directories; returns the data directory and its cleanup.
 */
export async function writeOut(base: CorruptionBase, storage: SimulatedStorage): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'ecsdb-proof-'));
  const dir = join(root, 'db');
  await mkdir(join(dir, 'wal'), { recursive: true, mode: 0o700 });
  for (const [path, bytes] of storage.snapshotFiles()) {
    const target = join(dir, path.slice(base.dir.length + 1));
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    await writeFile(target, bytes, { mode: 0o600 });
  }
  return { dir, cleanup: () => rm(root, { recursive: true, force: true }) };
}
