/**
 * The README's encryption example runs as written against the built library (the test command
 * builds first): it creates an encrypted directory with a key file, and the result opens only
 * with that key.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('the README encryption example writes a directory that only its key opens', async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('## Encryption at rest')[1];
  const example = /```ts\n([\s\S]*?)```/.exec(section ?? '')?.[1];
  expect(example, 'README.md has an encryption example').toBeDefined();
  const cwd = await mkdtemp(join(tmpdir(), 'ecsdb-readme-enc-'));
  try {
    const library = JSON.stringify(join(ROOT, 'dist/src/index.js'));
    await writeFile(join(cwd, 'game.key'), randomBytes(32).toString('hex'));
    const program = `import { open, defineComponent, t } from ${library};
      const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
      const Name = defineComponent('Name', { value: t.string });
      ${example}
      db.transact((tx) => tx.add(tx.create(), Name, { value: 'hidden-in-the-save' }));
      await db.close();
      const again = await open({ dir: 'save', components: [Position, Name], config: false }).catch((e) => e);
      console.log(again.code);`;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', program], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(output.trim()).toBe('KEY_REQUIRED');
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});
