// The shape of one `node cli/bench.js NAME` benchmark, and the kernel timer they share.
import type { Parsed, OptionTable } from '../args.ts';
import type { Binding, WebGpuRuntime } from '../../engine/webgpu/runtime.ts';
import type { KernelLaunch } from '../../engine/webgpu/launch.ts';
import { bindSplitPlan, type SplitPlan } from '../../engine/webgpu/split-plan.ts';

export interface Benchmark {
  name: string;
  summary: string;
  options: OptionTable;
  /** Prints a human table to stdout unless values.json, and returns the result object. */
  run(values: Parsed['values']): Promise<object>;
}

/**
 * Seconds per dispatch of one kernel: a warm-up (compiles the pipeline; skip it when the kernel has
 * run already), then repeated dispatches in one submit, doubling the count until the batch takes at
 * least `minSeconds`.
 */
export async function timeKernel(rt: WebGpuRuntime, launch: KernelLaunch, bindings: Binding[], minSeconds = 0.5, warmUp = true): Promise<number> {
  if (warmUp) {
    rt.dispatch(launch, bindings);
    await rt.sync();
  }
  for (let repeats = 1; ; repeats *= 2) {
    const start = performance.now();
    for (let i = 0; i < repeats; i++) rt.dispatch(launch, bindings);
    await rt.sync();
    const seconds = (performance.now() - start) / 1000;
    if (seconds >= minSeconds || repeats >= 1024) return seconds / repeats;
  }
}

/** Launches in dispatch order with their bindings: one pass as the op records it. */
export type Timed = Array<[KernelLaunch, Binding[]]>;

/**
 * A plan's launches bound as the op binds them (engine/webgpu/split-plan.ts). A scratch buffer is
 * acquired here and pushed onto `held`, for the caller to release.
 */
export function bindPlan(rt: WebGpuRuntime, plan: SplitPlan, inputs: GPUBuffer[], output: GPUBuffer, held: GPUBuffer[], sumInputs: GPUBuffer[] = []): Timed {
  const scratch = plan.launches.length > 1 ? rt.pool.acquire(plan.scratchFloats * 4, 'bench split-K partials') : undefined;
  if (scratch) held.push(scratch);
  return bindSplitPlan(plan, inputs, output, scratch, sumInputs);
}

/** Seconds per run of a pass's launches (a split pass and its sum together). */
export async function timeLaunches(rt: WebGpuRuntime, launches: Timed, minSeconds: number, warmUp: boolean): Promise<number> {
  let total = 0;
  for (const [launch, bindings] of launches) total += await timeKernel(rt, launch, bindings, minSeconds / launches.length, warmUp);
  return total;
}

/** A fixed-width table with right-aligned numbers. */
export function formatTable(header: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n) || Number.isInteger(n)) return String(n);
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}
