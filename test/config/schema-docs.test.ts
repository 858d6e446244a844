/**
 * The settings table is the one source: the example ecsdb.toml at the repository root and
 * docs/configuration.md must list every setting it has, with its default, and the example must
 * parse to exactly the defaults.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { SECTIONS, SETTINGS, describeAllowed, envVarOf, optionPathOf, settingsOf, tomlKeyOf } from '../../src/config/schema.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { FileStorage } from '../../src/storage/file-storage.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('the settings table', () => {
  it('gives every setting a default within its range, or says what the default is', () => {
    for (const spec of SETTINGS) {
      if (spec.default === undefined) {
        expect(spec.defaultText, `${spec.section}.${spec.key}`).toBeDefined();
      } else if (spec.type.kind === 'integer') {
        expect(spec.default).toBeGreaterThanOrEqual(spec.type.min);
        expect(spec.default).toBeLessThanOrEqual(spec.type.max);
      }
      expect(spec.description.length, `${spec.section}.${spec.key}`).toBeGreaterThan(10);
    }
  });
});

describe('ecsdb.toml at the repository root', () => {
  it('parses to exactly the defaults', async () => {
    const table = parse(await readFile(join(ROOT, 'ecsdb.toml'), 'utf8')) as Record<string, Record<string, unknown>>;
    const expected: Record<string, Record<string, unknown>> = {};
    for (const section of SECTIONS) {
      expected[section] = {};
      for (const spec of settingsOf(section)) if (spec.default !== undefined) expected[section][tomlKeyOf(spec)] = spec.default;
    }
    expect(table).toEqual(expected);
  });

  it('shows every setting, the ones without a fixed default commented out', async () => {
    const text = await readFile(join(ROOT, 'ecsdb.toml'), 'utf8');
    for (const section of SECTIONS) {
      const body = text.split(new RegExp(`^\\[${section}\\]$`, 'm'))[1]?.split(/^\[/m)[0];
      expect(body, `[${section}] is in the file`).toBeDefined();
      for (const spec of settingsOf(section)) {
        const pattern = spec.default === undefined ? `^# ${tomlKeyOf(spec)} = ` : `^${tomlKeyOf(spec)} = `;
        expect(body, `[${section}] ${tomlKeyOf(spec)}`).toMatch(new RegExp(pattern, 'm'));
      }
    }
  });

  it('is what open() reads from the repository root, and passes its checks', async () => {
    const config = await resolveConfig({ env: {}, cwd: ROOT, storage: new FileStorage() });
    expect(config.file).toBe(join(ROOT, 'ecsdb.toml'));
    for (const spec of SETTINGS.filter((s) => s.default !== undefined)) {
      expect(config.entries.get(`${spec.section}.${spec.key}`)?.value).toBe(spec.default);
    }
  });
});

describe('docs/configuration.md', () => {
  it('has a reference row for every setting with all its names, what is allowed, its default and whether it changes at run time', async () => {
    const lines = (await readFile(join(ROOT, 'docs/configuration.md'), 'utf8')).split('\n');
    for (const spec of SETTINGS) {
      const row = lines.find((line) => line.startsWith(`| \`${tomlKeyOf(spec)}\` | \`${envVarOf(spec)}\` |`));
      expect(row, `a row for ${envVarOf(spec)}`).toBeDefined();
      const cells = row!.split(' | ');
      expect(cells[2]).toBe(`\`${optionPathOf(spec)}\``);
      expect(cells[3]).toBe(describeAllowed(spec.type));
      expect(cells[4].startsWith(spec.default === undefined ? spec.defaultText! : JSON.stringify(spec.default))).toBe(true);
      expect(cells[5]).toBe(spec.runtime ? 'yes' : 'no');
    }
  });
});
