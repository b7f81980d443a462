/** Saving the config file from the settings page: validate first, back up, write atomically, reload. */
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configTextHash, createRuntime, type Runtime, restoreRedactedLines } from '../src/index.js';

const opened: Runtime[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

const TOKEN = 'a-very-long-secret-token-0123456789abcdef';
const CONFIG = `# my backends (this comment must survive)
backends:
  - name: local
    type: local

settings:
  filter_user: alice   # who "My jobs" means
  auth_token: ${TOKEN}
`;

async function open(dir: string, configPath: string): Promise<Runtime> {
  const rt = await createRuntime({
    cwd: dir,
    configPath,
    dataDir: join(dir, 'data'),
    logger: { info() {}, warn() {}, error() {} },
  });
  opened.push(rt);
  return rt;
}

function setup(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sh-save-'));
  const path = join(dir, 'scripthut.yaml');
  writeFileSync(path, CONFIG);
  chmodSync(path, 0o640);
  return { dir, path };
}

const backups = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.bak'));

describe('saveConfigText', () => {
  it('writes the text as given (comments kept, secret restored), backs up the old file, reloads', async () => {
    const { dir, path } = setup();
    const rt = await open(dir, path);
    const shown = rt.configView().text as string;
    expect(shown).not.toContain(TOKEN);
    const edited = shown.replace('filter_user: alice', 'filter_user: bob');
    const r = await rt.saveConfigText(edited, { baseHash: configTextHash(shown) });
    expect(r.saved).toBe(true);
    expect(r.issues).toEqual([]);
    expect(readFileSync(path, 'utf8')).toBe(CONFIG.replace('filter_user: alice', 'filter_user: bob'));
    expect(r.backupPath).toMatch(/scripthut\.yaml\.\d{8}T\d{9}Z\.bak$/);
    expect(readFileSync(r.backupPath as string, 'utf8')).toBe(CONFIG);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(statSync(r.backupPath as string).mode & 0o777).toBe(0o640);
    expect(r.reload).toMatchObject({ applied: true, live: ['settings.filter_user: "alice" -> "bob"'] });
    expect(rt.settings.filter_user).toBe('bob');
    expect(rt.settings.auth_token).toBe(TOKEN);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('writes nothing when the text has errors, and reports them with positions', async () => {
    const { dir, path } = setup();
    const rt = await open(dir, path);
    const r = await rt.saveConfigText('backends:\n  - name: local\n    type: locl\n');
    expect(r.saved).toBe(false);
    expect(r.issues[0]).toMatchObject({ path: 'backends[0].type', line: 3, file: path });
    expect(readFileSync(path, 'utf8')).toBe(CONFIG);
    expect(backups(dir)).toEqual([]);
  });

  it('a dry run validates the redacted text (secret restored) and writes nothing', async () => {
    const { dir, path } = setup();
    const rt = await open(dir, path);
    const r = await rt.saveConfigText(rt.configView().text as string, { dryRun: true });
    expect(r).toMatchObject({ saved: false, issues: [], backupPath: null });
    expect(backups(dir)).toEqual([]);
  });

  it('refuses to overwrite a file that changed on disk since the editor loaded it', async () => {
    const { dir, path } = setup();
    const rt = await open(dir, path);
    const shown = rt.configView().text as string;
    writeFileSync(path, `${CONFIG}# edited elsewhere\n`);
    await expect(rt.saveConfigText(shown, { baseHash: configTextHash(shown) })).rejects.toMatchObject({
      code: 'conflict',
    });
    expect(readFileSync(path, 'utf8')).toBe(`${CONFIG}# edited elsewhere\n`);
    expect(backups(dir)).toEqual([]);
  });

  it('replaces the target of a symlinked config and keeps the link', async () => {
    const { dir, path } = setup();
    const link = join(dir, 'link.yaml');
    symlinkSync(path, link);
    const rt = await open(dir, link);
    const r = await rt.saveConfigText(`${rt.configView().text}# more\n`);
    expect(r.saved).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(`${CONFIG}# more\n`);
    expect(statSync(link).isFile()).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('link.yaml.'))).toEqual([]);
  });

  it('says how to start with a file when the embedded default is in use', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-save-'));
    const rt = await createRuntime({
      cwd: dir,
      dataDir: join(dir, 'data'),
      logger: { info() {}, warn() {}, error() {} },
    });
    opened.push(rt);
    await expect(rt.saveConfigText('backends: []\n')).rejects.toMatchObject({
      code: 'config_not_found',
      message: expect.stringContaining('--config PATH'),
    });
  });
});

describe('restoreRedactedLines', () => {
  it('restores untouched redacted lines and keeps edited ones', () => {
    const original = 'a: 1\ntoken: s3cret\nb: 2';
    const shown = 'a: 1\ntoken: ***\nb: 2';
    expect(restoreRedactedLines('a: 3\ntoken: ***\nb: 2', original, shown)).toBe('a: 3\ntoken: s3cret\nb: 2');
    expect(restoreRedactedLines('a: 1\ntoken: n3w\nb: 2', original, shown)).toBe('a: 1\ntoken: n3w\nb: 2');
  });
  it('refuses when the redaction changed the number of lines', () => {
    expect(() => restoreRedactedLines('a: ***', 'a: |\n  x\n  y', 'a: ***')).toThrow(/several lines/);
  });
});
