// A training run killed with SIGKILL again and again, many of the kills inside a checkpoint save,
// and resumed each time: --resume never refuses, the next start leaves no temporary file or
// unfinished generation behind, and the log never holds an epoch twice nor misses one. The test
// hooks SEPBN_TEST_SAVE_PAUSE_MS (each save stage is announced on stderr, then waits) and
// SEPBN_TEST_WRITE_PAUSE_MS (each file waits under its temporary name before its rename) make the
// saves long enough for the kills to land at every stage. Each start is made as cheap as a start
// can be (CPU backend, width 64, batch 1, the loader on the main thread, one step an epoch, two test
// faces), so that most of its time is spent inside saves and 50 kills fit in about a minute.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSyntheticDataset } from '../../data/synthetic-dataset.ts';
import { Random } from '../../engine/random.ts';
import { readRunCheckpoint } from '../../models/run.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sepbn-run-atomic-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const data = ensureSyntheticDataset(dir, { train: 4, test: 2, size: 96, seed: 4 });
const out = join(dir, 'run');
const checkpoint = join(out, 'last.safetensors');
// A start advances the run by at most two epochs before its kill, so the run cannot finish before the last kill.
const KILLS = 50;
const EPOCHS = 2 * KILLS + 1;
const PAUSE_MS = 25;
// The stages a save announces, in order; 'log' is the log line's append after the commit.
const STAGES = ['optimizer', 'weights', 'commit', 'optimizer link', 'prune', 'log'];

/** A new run where no checkpoint was ever committed (replacing the one a kill cut short), else a resume with no --out. */
function args(): string[] {
  const common = ['cli/train.js', '--backend', 'cpu', '--workers', '0'];
  if (existsSync(checkpoint)) return [...common, '--resume', checkpoint];
  return [...common, '--data', data, '--width', '64', '--batch', '1', '--epochs', String(EPOCHS), '--max-batches', '1', '--out', out, '--overwrite'];
}

/** The generation a checkpoint (last or best) points at now; none before its first save. */
function currentGeneration(name: string): number | undefined {
  const link = join(out, `${name}.safetensors`);
  return existsSync(link) ? Number(/-(\d+)\./.exec(readlinkSync(link))?.[1]) : undefined;
}

/**
 * Temporary files, and checkpoint generations (of last.safetensors and of best.safetensors) besides
 * the current ones. While a start is saving (`saving`: its process, and the file its save writes),
 * its own temporary files and that new generation are not leftovers: the test may look late, after
 * the save has gone on writing. A save's generation is one past the newest of its name in the
 * folder, so it is one past the current one exactly when nothing stale was left.
 */
function leftovers(saving?: { pid: number; file: string }): string[] {
  const names = readdirSync(out);
  const [, savingName, savingGeneration] = /^(\w+)-(\d+)\.safetensors$/.exec(saving?.file ?? '') ?? [];
  const stale = names.filter((n) => {
    const [, name, generation] = /^(last|best)-(\d+)(?:\.optim)?\.safetensors$/.exec(n) ?? [];
    if (name === undefined) return false;
    const allowed = name === savingName ? [Number(savingGeneration) - 1, Number(savingGeneration)] : [currentGeneration(name)];
    return !allowed.includes(Number(generation));
  });
  const temporaries = names.filter((n) => n.includes('.tmp-') && !(saving && n.includes(`.tmp-${saving.pid}-`)));
  return [...temporaries, ...stale];
}

function loggedEpochs(): number[] {
  if (!existsSync(join(out, 'log.jsonl'))) return [];
  return readFileSync(join(out, 'log.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).epoch);
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** The save stage the kill was sent in, or 'training' before the first save. */
  killedIn?: string;
  /** What the folder held besides the current checkpoint when this start reached its first save. */
  leftAtStart?: string[];
}

/**
 * Runs the command; kills it `delayMs` after its save announces `stage` (once `saves` saves have
 * begun), or `delayMs` after its first epoch starts when `stage` is 'training'. With no stage it
 * runs to the end, without the pauses, which only serve the kills.
 */
function runAndKill(stage: string | undefined, saves: number, delayMs: number): Promise<Outcome> {
  const pauseMs = String(stage === undefined ? 0 : PAUSE_MS);
  const child = spawn(process.execPath, args(), {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, SEPBN_TEST_SAVE_PAUSE_MS: pauseMs, SEPBN_TEST_WRITE_PAUSE_MS: pauseMs },
  });
  const outcome: Outcome = { code: null, signal: null, stderr: '' };
  let savesBegun = 0;
  let lastStage = 'training';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    outcome.stderr += chunk;
    for (const line of chunk.split('\n')) {
      const [, announced, writing] = /^checkpoint save: ([^[]*?)(?: \[(.*)\])?$/.exec(line) ?? [];
      if (announced === undefined) {
        if (stage === 'training' && /^epoch \d+\/\d+/.test(line) && outcome.killedIn === undefined) kill('training');
        continue;
      }
      lastStage = announced;
      if (announced === 'optimizer') {
        // The save has just begun: the previous start's leftovers must be gone by now.
        if (++savesBegun === 1) outcome.leftAtStart = leftovers({ pid: child.pid!, file: writing ?? '' });
      }
      if (announced === stage && savesBegun >= saves && outcome.killedIn === undefined) kill(announced);
    }
  });
  function kill(at: string) {
    outcome.killedIn = at;
    setTimeout(() => {
      outcome.killedIn = at === 'training' ? lastStage : lastStage === at ? at : `${at}+`;
      child.kill('SIGKILL');
    }, delayMs);
  }
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ ...outcome, code, signal })));
}

t.test('SIGKILL at any moment, then --resume: never refused, nothing left over, no epoch logged twice', async (t) => {
  const killedIn: string[] = [];
  // Seeded, so a failure replays: the moments are random but the same on every run.
  const random = new Random(13);
  for (let i = 0; i < KILLS; i++) {
    // Every save stage in turn, at a random delay (inside the announced pause, or into the write
    // that follows it), every seventh kill during training instead, and a third in a start's second save.
    const stage = i % 7 === 6 ? 'training' : STAGES[i % STAGES.length];
    const outcome = await runAndKill(stage, i % 3 === 2 ? 2 : 1, random.uniform(0, 2 * PAUSE_MS));
    if (outcome.leftAtStart) t.same(outcome.leftAtStart, [], `start ${i + 1}: no temporary file or stale generation`);
    if (outcome.signal !== 'SIGKILL') {
      // The run may finish before its kill comes; any other exit is a refusal or a crash.
      t.equal(outcome.code, 0, `start ${i + 1} ends only by the kill or by finishing: ${outcome.stderr}`);
      break;
    }
    killedIn.push(outcome.killedIn ?? 'before training');
    const epochs = loggedEpochs();
    t.same(epochs, epochs.map((_, k) => k + 1), `after kill ${i + 1} (${outcome.killedIn}): epochs logged once each, in order: ${epochs.join(' ')}`);
  }
  t.equal(killedIn.length, KILLS, `every one of the ${KILLS} starts was killed before the run could finish`);
  const inSaves = killedIn.filter((s) => s !== 'training' && s !== 'before training' && s !== 'log' && s !== 'log+');
  t.ok(inSaves.length >= KILLS / 2, `${inSaves.length} of ${killedIn.length} kills landed inside a save: ${killedIn.join(', ')}`);

  const last = await runAndKill(undefined, 0, 0);
  t.equal(last.code, 0, `the last start finishes the run: ${last.stderr}`);
  t.same(leftovers(), [], 'no temporary file or stale generation at the end');
  t.same(loggedEpochs(), Array.from({ length: EPOCHS }, (_, k) => k + 1), 'one log line per epoch');
  t.equal(readRunCheckpoint(checkpoint).state.epoch, EPOCHS, 'the checkpoint is the last epoch');
});
