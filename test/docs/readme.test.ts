/**
 * The README's example runs as written (against the built library), so the docs cannot rot.
 * The test command builds before vitest runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('the README example runs and prints what its comments say', async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const example = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).find((code) => code.includes("from 'ecsdb'"));
  expect(example, 'README.md has a ```ts example importing ecsdb').toBeDefined();
  const cwd = await mkdtemp(join(tmpdir(), 'ecsdb-readme-'));
  try {
    const library = join(ROOT, 'dist/src/index.js');
    await writeFile(join(cwd, 'example.mjs'), example!.replace("from 'ecsdb'", `from ${JSON.stringify(library)}`));
    const output = execFileSync(process.execPath, ['example.mjs'], { cwd, encoding: 'utf8' });
    expect(output.trim()).toBe('{ x: 1, y: 2, z: 0 }');
    // It persisted: the data directory holds the meta file and a WAL segment.
    const reopened = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { open, defineComponent, t } from ${JSON.stringify(library)};
         const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
         const Name = defineComponent('Name', { value: t.string });
         const db = await open({ dir: 'data', components: [Position, Name] });
         console.log(db.query(Name).map((e) => db.get(e, Name).value).join(','));
         await db.close();`,
      ],
      { cwd, encoding: 'utf8' },
    );
    expect(reopened.trim()).toBe('scout');
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});
