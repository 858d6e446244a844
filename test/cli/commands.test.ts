/** `ecsdb validate`, `dump`, `snapshot` and `repair`, run as the built bin on real directories. */
import { spawnSync } from 'node:child_process';
import { link, mkdir, mkdtemp, readFile, readdir, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { defineComponent, open, t } from '../../src/index.js';
import { runCli } from '../../src/cli/run.js';
import { RECORD_HEADER_SIZE_BYTES, recordStartsWrite } from '../../src/wal/format.js';
import { recordStarts } from '../helpers/db-dir.js';

const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
const Tags = defineComponent('Tags', { slots: t.array(t.u8, 4), name: t.string, ref: t.entity, ok: t.bool });
const COMPONENTS = [Position, Tags];

function ecsdb(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
}

async function inProcess(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const status = await runCli(args, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  return { status, stdout, stderr };
}

function oneLine(stderr: string): void {
  expect(stderr.trim().split('\n')).toHaveLength(1);
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ecsdb-cli-cmd-'));
  // A fixed clock: the same time records, so the same segments and writes, on every run.
  const db = await open({ dir, components: COMPONENTS, config: false, now: () => 1_700_000_000_000, wal: { segmentSizeBytesMax: 4096 } });
  for (let i = 0; i < 300; i++) {
    db.transact((tx) => {
      const e = tx.create();
      tx.add(e, Position, { x: i, y: 1, z: 2 });
      if (i % 10 === 0) tx.add(e, Tags, { slots: [1, 2, 3, i % 256], name: `n${i}`, ref: null, ok: true });
    });
    // A write every few commits: damage in the newest segment then has later writes after it.
    if (i % 5 === 0) await db.flush();
  }
  await db.close();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function walFiles(): Promise<string[]> {
  return (await readdir(join(dir, 'wal'))).filter((n) => n.endsWith('.wal')).sort();
}

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] ^= 0xff;
  await writeFile(path, bytes);
}

async function listing(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      out.push(`${path.slice(root.length)} ${(await stat(path)).size} ${(await readFile(path)).toString('base64').length}`);
    }
  }
  return out.sort();
}

describe('ecsdb validate', () => {
  test('a clean directory: exit 0, JSON says what was checked', async () => {
    const db = await open({ dir, components: COMPONENTS, config: false });
    await db.snapshot();
    await db.close();
    const result = ecsdb('validate', '--dir', dir, '--json');
    expect(result.status).toBe(0);
    const validation = JSON.parse(result.stdout);
    expect(validation.ok).toBe(true);
    expect(validation.problems).toEqual([]);
    expect(validation.checked.meta).toBe(true);
    expect(validation.checked.manifest).toBe(true);
    expect(validation.checked.snapshots).toBe(1);
    expect(validation.checked.records).toBe(300);
    expect(ecsdb('validate', '--dir', dir).stdout).toContain('ok: no damage found');
  });

  test('a flipped byte in a WAL segment: exit 1, names the file and offset, changes nothing', async () => {
    const [first] = await walFiles();
    await flipByte(join(dir, 'wal', first), 100);
    const before = await listing(dir);
    const result = ecsdb('validate', '--dir', dir, '--json');
    expect(result.status).toBe(1);
    oneLine(result.stderr);
    expect(result.stderr).toContain(first);
    const validation = JSON.parse(result.stdout);
    expect(validation.ok).toBe(false);
    expect(validation.problems[0].file).toBe(`wal/${first}`);
    expect(typeof validation.problems[0].offset).toBe('number');
    expect(await listing(dir)).toEqual(before);
  });

  test('a flipped byte in a snapshot, the MANIFEST or the meta file is found', async () => {
    const db = await open({ dir, components: COMPONENTS, config: false });
    const entry = await db.snapshot();
    await db.close();
    await flipByte(join(dir, 'snapshots', entry.file), 200);
    let result = ecsdb('validate', '--dir', dir, '--json');
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout).problems.map((p: { file: string }) => p.file)).toContain(`snapshots/${entry.file}`);
    await flipByte(join(dir, 'MANIFEST'), 30);
    result = ecsdb('validate', '--dir', dir, '--json');
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout).problems.map((p: { file: string }) => p.file)).toContain('MANIFEST');
    await flipByte(join(dir, 'ecsdb.meta'), 30);
    result = ecsdb('validate', '--dir', dir, '--json');
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout).problems[0].file).toBe('ecsdb.meta');
  });

  test('a torn tail of the newest segment is a warning, not damage: exit 0, reported in the text and in --json', async () => {
    const files = await walFiles();
    const last = files[files.length - 1];
    const path = join(dir, 'wal', last);
    const intact = await readFile(path);
    // What a crash in the middle of an append leaves: the start of a record.
    await writeFile(path, Buffer.concat([intact, Buffer.from([40, 0, 0, 0, 9, 9])]));
    const result = ecsdb('validate', '--dir', dir, '--json');
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    const validation = JSON.parse(result.stdout);
    expect(validation.ok).toBe(true);
    expect(validation.problems).toEqual([]);
    expect(validation.warnings).toHaveLength(1);
    expect(validation.warnings[0]).toMatchObject({ file: `wal/${last}`, offset: intact.length });
    expect(validation.warnings[0].message).toContain('torn tail of 6 bytes');
    const text = ecsdb('validate', '--dir', dir);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`warning wal/${last} @${intact.length}: torn tail`);
    expect(text.stdout).toContain('ok: no damage found (1 warning(s))');
    // open() agrees: it cuts the tail as a normal crash outcome.
    const db = await open({ dir, components: COMPONENTS, config: false });
    try {
      expect(db.lsn).toBe(300);
    } finally {
      await db.close();
    }
  });

  test('damage in the newest segment with a later write after it is still damage: exit 1', async () => {
    const files = await walFiles();
    const last = join(dir, 'wal', files[files.length - 1]);
    const bytes = new Uint8Array(await readFile(last));
    const starts = recordStarts(bytes);
    const lastWrite = Math.max(...starts.map((start, index) => (recordStartsWrite(bytes, start) ? index : -1)));
    expect(lastWrite, 'the newest segment needs records before its last write').toBeGreaterThanOrEqual(2);
    await flipByte(last, starts[Math.floor(lastWrite / 2)] + RECORD_HEADER_SIZE_BYTES);
    const result = ecsdb('validate', '--dir', dir, '--json');
    expect(result.status).toBe(1);
    const validation = JSON.parse(result.stdout);
    expect(validation.problems[0].file).toBe(`wal/${files[files.length - 1]}`);
    expect(validation.warnings).toEqual([]);
  });

  test('a missing segment (an LSN gap) is found', async () => {
    const files = await walFiles();
    expect(files.length).toBeGreaterThan(2);
    await rm(join(dir, 'wal', files[1]));
    const result = ecsdb('validate', '--dir', dir, '--json');
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout).problems[0].message).toContain('missing');
  });

  test('runs while the database is open elsewhere (read only, no lock)', async () => {
    const db = await open({ dir, components: COMPONENTS, config: false });
    try {
      expect(ecsdb('validate', '--dir', dir).status).toBe(0);
    } finally {
      await db.close();
    }
  });
});

describe('ecsdb dump', () => {
  test('one JSON line per entity, every component, without the application code', () => {
    const result = ecsdb('dump', '--dir', dir);
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines).toHaveLength(300);
    expect(lines[0]).toEqual({ entity: 0, Position: { x: 0, y: 1, z: 2 }, Tags: { slots: [1, 2, 3, 0], name: 'n0', ref: null, ok: true } });
    expect(lines[1]).toEqual({ entity: 1, Position: { x: 1, y: 1, z: 2 } });
  });

  test('--component keeps only entities having it, and only it', () => {
    const result = ecsdb('dump', '--dir', dir, '--component', 'Tags', '--json');
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines).toHaveLength(30);
    expect(Object.keys(lines[1])).toEqual(['entity', 'Tags']);
    expect(lines[1].Tags.name).toBe('n10');
  });

  test('an unknown component: exit 1 naming the schema', () => {
    const result = ecsdb('dump', '--dir', dir, '--component', 'Nope');
    expect(result.status).toBe(1);
    oneLine(result.stderr);
    expect(result.stderr).toContain('Position, Tags');
  });

  test('a damaged WAL: exit 1 with CORRUPT_WAL', async () => {
    await flipByte(join(dir, 'wal', (await walFiles())[0]), 100);
    const result = ecsdb('dump', '--dir', dir);
    expect(result.status).toBe(1);
    oneLine(result.stderr);
    expect(result.stderr).toContain('CORRUPT_WAL');
  });
});

describe('ecsdb snapshot', () => {
  test('offline snapshot: prints the entry, the database opens from it', async () => {
    const result = ecsdb('snapshot', '--dir', dir, '--json');
    expect(result.status).toBe(0);
    const entry = JSON.parse(result.stdout);
    expect(entry.endLsn).toBe(300);
    expect(entry.file).toMatch(/^\d{20}\.snap$/);
    const db = await open({ dir, components: COMPONENTS, config: false });
    try {
      expect(db.recovery?.snapshot?.file).toBe(entry.file);
      expect(db.entityCount).toBe(300);
    } finally {
      await db.close();
    }
    expect(ecsdb('snapshot', '--dir', dir).stdout).toContain('.snap: LSN');
  });
});

describe('ecsdb repair', () => {
  test('a clean WAL: nothing is cut, exit 0', async () => {
    const before = await listing(dir);
    const result = ecsdb('repair', '--dir', dir, '--json');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout).cut).toBeUndefined();
    expect(await listing(dir)).toEqual(before);
  });

  test('cuts at the first bad record, keeps every cut byte aside, and the directory opens again', async () => {
    const files = await walFiles();
    const damaged = files[1];
    const originals = new Map<string, Buffer>();
    for (const name of files) originals.set(name, await readFile(join(dir, 'wal', name)));
    await flipByte(join(dir, 'wal', damaged), 100);
    const damagedBytes = await readFile(join(dir, 'wal', damaged));
    await expect(open({ dir, components: COMPONENTS, config: false })).rejects.toThrow(/corrupt/);

    const result = ecsdb('repair', '--dir', dir, '--json');
    expect(result.status).toBe(0);
    const { cut } = JSON.parse(result.stdout);
    expect(cut.segment).toBe(damaged);
    expect(cut.offset).toBeGreaterThan(0);
    expect(cut.offset).toBeLessThanOrEqual(100);
    expect(cut.sideFile).toBe(`repair/${damaged}.${cut.offset}.cut`);
    // The kept segment plus its side file are exactly the damaged bytes.
    const kept = await readFile(join(dir, 'wal', damaged));
    const side = await readFile(join(dir, cut.sideFile));
    expect(Buffer.concat([kept, side]).equals(damagedBytes)).toBe(true);
    expect(cut.bytesCut).toBe(side.length);
    // Later segments moved aside unchanged.
    expect(cut.movedSegments.map((m: { segment: string }) => m.segment)).toEqual(files.slice(2));
    for (const moved of cut.movedSegments) {
      expect((await readFile(join(dir, moved.sideFile))).equals(originals.get(moved.segment)!)).toBe(true);
    }
    expect(await walFiles()).toEqual(files.slice(0, 2));

    const db = await open({ dir, components: COMPONENTS, config: false });
    try {
      expect(db.lsn).toBe(cut.lastLsnKept);
      expect(db.entityCount).toBe(cut.lastLsnKept);
      await db.transact((tx) => tx.create()).durable;
    } finally {
      await db.close();
    }
    expect(ecsdb('validate', '--dir', dir).status).toBe(0);
  });

  test('a segment a crashed repair left under both its wal/ and repair/ names leaves wal/ on the rerun', async () => {
    const files = await walFiles();
    const later = files[files.length - 1];
    await flipByte(join(dir, 'wal', files[1]), 100);
    // What a crash between the two directory fsyncs of a move can leave: two links to one file,
    // between which rename() does nothing.
    await mkdir(join(dir, 'repair'), { recursive: true });
    await link(join(dir, 'wal', later), join(dir, 'repair', `${later}.0.cut`));
    const result = ecsdb('repair', '--dir', dir, '--json');
    expect(result.status, result.stderr).toBe(0);
    expect(await walFiles()).toEqual(files.slice(0, 2));
    const db = await open({ dir, components: COMPONENTS, config: false });
    await db.close();
  });

  test('cuts a torn tail of the last segment and keeps it', async () => {
    const files = await walFiles();
    const last = join(dir, 'wal', files[files.length - 1]);
    const bytes = await readFile(last);
    await writeFile(last, Buffer.concat([bytes, Buffer.from([1, 2, 3, 4, 5, 6, 7])]));
    const result = ecsdb('repair', '--dir', dir);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`cut ${files[files.length - 1]} at byte offset ${bytes.length}`);
    expect([...(await readFile(join(dir, 'repair', `${files[files.length - 1]}.${bytes.length}.cut`)))]).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect((await readFile(last)).equals(bytes)).toBe(true);
  });
});

describe('commands that open or change the directory refuse while it is held', () => {
  test('held by another process (this test process, the CLI in a child): exit 1 DB_LOCKED', async () => {
    const db = await open({ dir, components: COMPONENTS, config: false });
    db.transact((tx) => tx.add(tx.create(), Position, { x: 1 }));
    await db.flush();
    try {
      for (const command of [['dump'], ['snapshot'], ['repair']]) {
        const result = ecsdb(...command, '--dir', dir);
        expect(result.status, command[0]).toBe(1);
        oneLine(result.stderr);
        expect(result.stderr).toContain('DB_LOCKED');
      }
    } finally {
      await db.close();
    }
    expect(ecsdb('dump', '--dir', dir).status).toBe(0);
  });

  test('held by this same process: exit 1 DB_LOCKED', async () => {
    const db = await open({ dir, components: COMPONENTS, config: false });
    try {
      for (const command of ['dump', 'snapshot', 'repair']) {
        const result = await inProcess(command, '--dir', dir);
        expect(result.status, command).toBe(1);
        oneLine(result.stderr);
        expect(result.stderr).toContain('DB_LOCKED');
      }
    } finally {
      await db.close();
    }
    const result = await inProcess('dump', '--dir', dir, '--component', 'Tags');
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(30);
  });
});

describe('usage and exit codes', () => {
  test('--help for each command exits 0; bad usage exits 2; a non-database exits 1', async () => {
    for (const command of ['inspect', 'validate', 'dump', 'snapshot', 'repair', 'restore', 'compact']) {
      const help = ecsdb(command, '--help');
      expect(help.status, command).toBe(0);
      expect(help.stdout).toContain(`ecsdb ${command}`);
      expect(help.stdout).toContain('--dir');
    }
    expect(ecsdb('validate').status).toBe(2);
    expect(ecsdb('dump', '--dir', dir, 'extra').status).toBe(2);
    expect(ecsdb('validate', '--dir', dir, '--component', 'Tags').status).toBe(2);
    expect(ecsdb('repair', '--dir').status).toBe(2);
    const empty = await mkdtemp(join(tmpdir(), 'ecsdb-cli-empty-'));
    try {
      for (const command of ['validate', 'dump', 'snapshot', 'repair']) {
        const result = ecsdb(command, '--dir', empty);
        expect(result.status, command).toBe(1);
        oneLine(result.stderr);
        expect(result.stderr).toContain('not an ecsdb directory');
      }
      expect(await readdir(empty)).toEqual([]);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  test('--config names the data directory when --dir is absent', async () => {
    const configDir = await mkdtemp(join(tmpdir(), 'ecsdb-cli-config-'));
    try {
      const file = join(configDir, 'ecsdb.toml');
      await writeFile(file, `[storage]\ndir = ${JSON.stringify(dir)}\n`);
      const result = ecsdb('validate', '--config', file, '--json');
      expect(result.status).toBe(0);
      expect(JSON.parse(result.stdout).dir).toBe(dir);
      expect(ecsdb('validate', '--config', join(configDir, 'missing.toml')).status).toBe(1);
    } finally {
      await rm(configDir, { recursive: true, force: true });
    }
  });
});
