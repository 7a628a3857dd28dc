// Runs one of the project's commands as a user would, from the repository root, and returns what it
// printed. Dawn's own "Warning:" lines about binding limits are dropped from stderr, so a test can
// assert on what the command itself said.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export function runCommand(args: string[]): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  return { ...r, stderr: r.stderr.split('\n').filter((l) => !l.startsWith('Warning:')).join('\n') };
}
