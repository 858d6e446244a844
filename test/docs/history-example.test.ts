/**
 * The README's time-travel example ("Deterministic state and time travel") runs as written
 * against the built library and prints what its comments say.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('the README time-travel example runs and prints what its comments say', async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const example = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).find((code) => code.includes('db.at('));
  expect(example, 'README.md has a ```ts example using db.at').toBeDefined();
  const printed = [...example!.matchAll(/console\.log\(.*\/\/ (.*)$/gm)].map((m) => m[1]);
  expect(printed).toHaveLength(3);
  const cwd = await mkdtemp(join(tmpdir(), 'ecsdb-readme-history-'));
  try {
    const library = join(ROOT, 'dist/src/index.js');
    await writeFile(join(cwd, 'example.mjs'), example!.replace("from 'ecsdb'", `from ${JSON.stringify(library)}`));
    const output = execFileSync(process.execPath, ['example.mjs'], { cwd, encoding: 'utf8' });
    expect(output.trim().split('\n')).toEqual(printed);
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});
