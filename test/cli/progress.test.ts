/**
 * Progress bars: drawn on stderr only when it is a terminal and the output is not --json;
 * redirected output never contains a control character.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defineComponent, open, t } from '../../src/index.js';
import { terminalProgress, type ProgressStream } from '../../src/cli/progress.js';
import { validateDirectory } from '../../src/cli/validate.js';

const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });

/** A stand-in for a terminal (or, with isTTY false, a pipe) that records what is written to it. */
function screen(isTTY: boolean): { stream: ProgressStream; text: () => string } {
  let written = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.toString();
      done();
    },
  });
  Object.assign(stream, { isTTY, columns: 100 });
  return { stream, text: () => written };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ecsdb-cli-progress-'));
  const db = await open({ dir, components: [Position], config: false, env: {}, wal: { segmentSizeBytesMax: 4096 } });
  for (let i = 0; i < 400; i++) {
    db.transact((tx) => tx.add(tx.create(), Position, { x: i }));
    if (i % 50 === 0) await db.flush();
  }
  await db.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('terminalProgress', () => {
  test('on a terminal: draws the label and the count, and clears the line when it ends', () => {
    const { stream, text } = screen(true);
    const bar = terminalProgress(stream, false)('WAL', 8);
    bar.tick(3);
    bar.end();
    bar.end(); // idempotent
    expect(text()).toContain('WAL [');
    expect(text()).toContain('0/8');
    expect(text()).toMatch(/\x1b\[2K$/); // the line is cleared: output that follows starts clean
  });

  test('nothing on a pipe or a file, nothing with --json, nothing for no work', () => {
    for (const [isTTY, json, total] of [
      [false, false, 8],
      [true, true, 8],
      [true, false, 0],
    ] as const) {
      const { stream, text } = screen(isTTY);
      const bar = terminalProgress(stream, json)('WAL', total);
      bar.tick(1);
      bar.end();
      expect(text(), `isTTY ${isTTY}, json ${json}, total ${total}`).toBe('');
    }
  });

  test('validate draws its WAL bar on a terminal and reports the same result', async () => {
    const { stream, text } = screen(true);
    const withBar = await validateDirectory(dir, terminalProgress(stream, false));
    expect(text()).toContain(`/${withBar.checked.segments}`);
    expect(withBar).toEqual(await validateDirectory(dir));
  });
});

describe('the bin', () => {
  test('redirected: stdout and stderr hold no control characters', () => {
    const result = spawnSync(process.execPath, [BIN, 'validate', '--dir', dir], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).not.toMatch(/[\x1b\r]/);
  });

  // script(1) runs the bin on a real pseudo-terminal, as a person at a terminal would.
  test.skipIf(!existsSync('/usr/bin/script'))('on a real terminal: a bar, cleared before the report; none with --json', () => {
    const onTerminal = (...args: string[]) =>
      spawnSync('/usr/bin/script', ['-q', '-e', '-c', [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], { encoding: 'utf8' });
    const plain = onTerminal('validate', '--dir', dir);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toContain('WAL [');
    expect(plain.stdout).toContain('ok: no damage found');
    const json = onTerminal('validate', '--dir', dir, '--json');
    expect(json.status).toBe(0);
    expect(json.stdout).not.toContain('WAL [');
    expect(JSON.parse(json.stdout).ok).toBe(true);
  });
});
