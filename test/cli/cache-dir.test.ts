// Where the built-in synthetic faces go: the project's own .cache/ where it may be written, the
// user's cache folder for a package installed where it may not (a global install as another user).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir } from '../../cli/dataset.ts';

t.test('a writable project folder keeps its own .cache/', async (t) => {
  const project = mkdtempSync(join(tmpdir(), 'sepbn-cache-'));
  t.teardown(() => rmSync(project, { recursive: true, force: true }));
  const own = join(project, '.cache');
  t.equal(cacheDir(own), own, 'the folder that does not exist yet, in a writable parent');
});

t.test('an unwritable package folder falls back to the user cache', async (t) => {
  // procfs refuses writes to a process's folder even to root, so this holds on any Linux machine.
  const own = '/proc/1/.cache';
  const saved = process.env.XDG_CACHE_HOME;
  t.teardown(() => (saved === undefined ? delete process.env.XDG_CACHE_HOME : (process.env.XDG_CACHE_HOME = saved)));
  delete process.env.XDG_CACHE_HOME;
  t.equal(cacheDir(own), join(homedir(), '.cache', 'sepbn-webgpu'));
  process.env.XDG_CACHE_HOME = '/tmp/xdg';
  t.equal(cacheDir(own), join('/tmp/xdg', 'sepbn-webgpu'), '$XDG_CACHE_HOME first');
});
