/// <reference lib="dom" />
// The walkthrough panel: the controls (temperature, K, groups, seed, the input x), then one SepBN
// layer computed by engine/ops/sep-batch-norm/walkthrough.ts on the page's backend: each forward
// intermediate in the derivation's order and names, the gradient reaching each in tape order
// beside its finite-difference check, and the fused kernels beside the composite of primitive ops.
// #walk-status carries data-state (computing, done, error) and data-settings (what the numbers shown
// were computed with), so a reader (or the browser test) knows when and for what they are final.
import {
  sepBnFusedComparison,
  sepBnWalkthrough,
  WALKTHROUGH_DEFAULTS,
  type FusedComparison,
  type WalkStep,
  type WalkthroughOptions,
} from '../../engine/ops/sep-batch-norm/walkthrough.ts';
import type { BackendName } from '../../engine/tensor.ts';
import { tensorView } from './tensor-view.ts';

export type Settings = Pick<WalkthroughOptions, 'temperature' | 'K' | 'groups' | 'seed'> & { input?: number[] };

/** A relative gap between two computations of one tensor below which they agree to f32 rounding. */
const AGREES = 1e-4;

function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function figure(kind: string, caption: string, values: ArrayLike<number>, shape: number[]): HTMLElement {
  const f = element('figure', 'view');
  f.dataset.kind = kind;
  f.append(element('figcaption', undefined, caption), tensorView(values, shape));
  return f;
}

function relativeGap(a: ArrayLike<number>, b: ArrayLike<number>): { absolute: number; relative: number } {
  let absolute = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    absolute = Math.max(absolute, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { absolute, relative: absolute / Math.max(scale, 1e-30) };
}

function check(text: string, ok: boolean): HTMLElement {
  return element('p', `check ${ok ? 'ok' : 'bad'}`, `${text} ${ok ? '✓' : '✗'}`);
}

function stepCard(step: WalkStep, backendLabel: string): HTMLElement {
  const card = element('section', 'step');
  card.dataset.name = step.name;
  card.dataset.phase = step.phase;
  card.dataset.shape = step.shape.join(',');
  const title = element('h4');
  title.append(element('code', undefined, step.name), ` [${step.shape.join(',')}]`);
  card.append(title, element('p', 'formula', step.formula));
  const views = element('div', 'views');
  if (step.phase === 'backward' && step.finiteDifference) {
    views.append(figure('values', `the tape (${backendLabel})`, step.values, step.shape));
    views.append(figure('finite-difference', 'finite differences (CPU, Float64)', step.finiteDifference, step.shape));
    const gap = relativeGap(step.values, step.finiteDifference);
    card.append(views, check(`max |tape − numeric| = ${gap.absolute.toExponential(2)} (relative ${gap.relative.toExponential(1)})`, gap.relative < AGREES));
  } else {
    views.append(figure('values', backendLabel, step.values, step.shape));
    card.append(views);
  }
  return card;
}

function fusedCard(f: FusedComparison, backendLabel: string): HTMLElement {
  const card = element('section', 'fused');
  card.dataset.name = f.name;
  card.dataset.shape = f.shape.join(',');
  const title = element('h4');
  title.append(element('code', undefined, f.name), ` [${f.shape.join(',')}]`);
  const views = element('div', 'views');
  views.append(figure('fused', `fused kernels (${backendLabel})`, f.fused, f.shape), figure('composite', 'composite of primitive ops', f.composite, f.shape));
  const gap = relativeGap(f.fused, f.composite);
  card.append(title, views, check(`max |fused − composite| = ${f.maxDifference.toExponential(2)} (relative ${gap.relative.toExponential(1)})`, gap.relative < AGREES));
  return card;
}

const PHASE_TITLES: Record<WalkStep['phase'], string> = {
  input: 'Inputs and parameters',
  forward: 'Forward, in the derivation\'s order (training mode)',
  backward: 'Backward: the gradient reaching each, in the order the tape runs (L = Σ y·R, so ∂L/∂y = R)',
};

export class WalkthroughPanel {
  private readonly temperature = byId<HTMLInputElement>('temperature');
  private readonly temperatureValue = byId<HTMLOutputElement>('temperature-value');
  private readonly sets = byId<HTMLSelectElement>('k');
  private readonly groups = byId<HTMLSelectElement>('groups');
  private readonly seed = byId<HTMLInputElement>('seed');
  private readonly input = byId<HTMLTextAreaElement>('input');
  private readonly status = byId<HTMLElement>('walk-status');
  private readonly steps = byId<HTMLElement>('steps');
  private pending = false;
  private running = false;

  /** run: does engine work one task at a time (the engine's memory scopes must not interleave). */
  constructor(private readonly backend: BackendName, private readonly backendLabel: string, private readonly run: <T>(task: () => Promise<T>) => Promise<T>) {
    this.temperature.value = String(WALKTHROUGH_DEFAULTS.temperature);
    this.sets.value = String(WALKTHROUGH_DEFAULTS.K);
    this.groups.value = String(WALKTHROUGH_DEFAULTS.groups);
    this.seed.value = String(WALKTHROUGH_DEFAULTS.seed);
    this.temperature.addEventListener('input', () => {
      this.temperatureValue.value = this.temperature.value;
      this.request();
    });
    for (const control of [this.sets, this.groups, this.seed]) control.addEventListener('change', () => this.request());
    this.input.addEventListener('change', () => {
      this.input.dataset.custom = 'true';
      this.request();
    });
    byId('draw-input').addEventListener('click', () => {
      this.input.dataset.custom = 'false';
      this.request();
    });
  }

  /** The settings the controls show; x only where the reader edited it. */
  settings(): Settings {
    const settings: Settings = {
      temperature: Number(this.temperature.value),
      K: Number(this.sets.value),
      groups: Number(this.groups.value),
      seed: Math.trunc(Number(this.seed.value)),
    };
    if (this.input.dataset.custom === 'true') settings.input = this.input.value.split(/[\s,]+/).filter(Boolean).map(Number);
    return settings;
  }

  /** Computes for the controls' settings; while a computation runs, only the latest request waits. */
  request(): void {
    this.pending = true;
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.pending) {
      this.pending = false;
      const settings = this.settings();
      this.temperatureValue.value = String(settings.temperature);
      this.status.dataset.state = 'computing';
      this.status.textContent = 'computing…';
      try {
        const started = performance.now();
        const [steps, fused] = await this.run(async () => [await sepBnWalkthrough(this.backend, settings), await sepBnFusedComparison(this.backend, settings)] as const);
        this.render(steps, fused);
        if (this.input.dataset.custom !== 'true') this.showInput(steps[0]);
        this.status.dataset.settings = JSON.stringify(settings);
        this.status.dataset.state = 'done';
        this.status.textContent = `computed on ${this.backendLabel} in ${(performance.now() - started).toFixed(0)} ms: ${steps.length} tensors, ${fused.length} fused-against-composite pairs`;
      } catch (err) {
        this.status.dataset.state = 'error';
        this.status.textContent = `error: ${(err as Error).message}`;
      }
    }
    this.running = false;
  }

  /** The drawn x in the input box, one (n, c) plane a line, so the reader edits from there. */
  private showInput(x: WalkStep): void {
    const plane = x.shape[2] * x.shape[3];
    const lines: string[] = [];
    for (let i = 0; i < x.values.length; i += plane) lines.push(Array.from(x.values.subarray(i, i + plane), (v) => v.toFixed(4)).join(' '));
    this.input.value = lines.join('\n');
  }

  private render(steps: WalkStep[], fused: FusedComparison[]): void {
    const sections: HTMLElement[] = [];
    for (const phase of ['input', 'forward', 'backward'] as const) {
      const section = element('section', 'phase');
      section.dataset.phase = phase;
      section.append(element('h3', undefined, PHASE_TITLES[phase]), ...steps.filter((s) => s.phase === phase).map((s) => stepCard(s, this.backendLabel)));
      sections.push(section);
    }
    const fusedSection = element('section', 'phase');
    fusedSection.dataset.phase = 'fused';
    fusedSection.append(
      element('h3', undefined, 'The fused kernels (batch_norm_*, mix_affine) beside the composite of primitive ops: sepBatchNormTrain, forward and every input\'s gradient'),
      ...fused.map((f) => fusedCard(f, this.backendLabel)),
    );
    sections.push(fusedSection);
    this.steps.replaceChildren(...sections);
  }
}
