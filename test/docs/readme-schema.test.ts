/**
 * The README's schema evolution example runs as written (against the built library) and prints
 * what its comments say.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function example(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const found = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).find((code) => code.includes('migrations:'));
  expect(found, 'README.md has a ```ts example declaring migrations').toBeDefined();
  return found!;
}

test('the README schema evolution example migrates a saved world and prints what its comments say', async () => {
  const code = await example();
  const cwd = await mkdtemp(join(tmpdir(), 'ecsdb-readme-schema-'));
  try {
    const library = join(ROOT, 'dist/src/index.js');
    await writeFile(join(cwd, 'example.mjs'), code.replace("from 'ecsdb'", `from ${JSON.stringify(library)}`));
    const output = execFileSync(process.execPath, ['example.mjs'], { cwd, encoding: 'utf8' });
    const printed = [...code.matchAll(/console\.log\(.*\/\/ (.*)$/gm)].map((m) => m[1].trim());
    expect(printed).toEqual(['{ points: 90, max: 100 }', '[ 2 ]']);
    expect(output.trim().split('\n')).toEqual(printed);
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});
