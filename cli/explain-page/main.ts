/// <reference lib="dom" />
// The teaching page's entry (served by `node cli/explain.js sepbn --serve`): installs the browser
// platform, opens the browser's WebGPU (or says clearly that there is none and computes on the
// Float64 CPU reference instead), names the adapter, renders the derivation, and starts the two
// panels. Environment switches come from the URL: ?SEPBN_KERNEL_PLAN=naive takes the naive kernels.
import { gpuRuntime, useBackend } from '../../engine/backend.ts';
import { NoGpuError } from '../../engine/device.ts';
import { browserPlatform } from '../../engine/platform/browser.ts';
import { installPlatform } from '../../engine/platform/platform.ts';
import type { BackendName } from '../../engine/tensor.ts';
import { describeKernelChoice } from '../../engine/webgpu/kernel-plan.ts';
import { LandmarkPanel } from './landmark-panel.ts';
import { markdownToHtml } from './markdown.ts';
import { WalkthroughPanel } from './walkthrough-panel.ts';

function byId(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e;
}

let queue: Promise<unknown> = Promise.resolve();

/** Runs engine work one task at a time: the engine's asynchronous memory scopes must not interleave. */
function serial<T>(task: () => Promise<T>): Promise<T> {
  const result = queue.then(task);
  queue = result.catch(() => undefined);
  return result;
}

async function openBackend(): Promise<{ backend: BackendName; label: string }> {
  const env = Object.fromEntries([...new URLSearchParams(location.search)].filter(([name]) => name.startsWith('SEPBN_')));
  installPlatform(await browserPlatform({ shaders: new URL('../../shaders/', import.meta.url), env }));
  const adapterLine = byId('adapter');
  try {
    await useBackend('webgpu');
  } catch (err) {
    if (!(err instanceof NoGpuError)) throw err;
    const warning = byId('no-webgpu');
    warning.hidden = false;
    warning.textContent = `${err.message} Meanwhile this page computes on the engine's Float64 CPU reference, slowly.`;
    adapterLine.dataset.backend = 'cpu';
    adapterLine.textContent = 'No WebGPU in this browser: computing on the Float64 CPU reference.';
    await useBackend('cpu');
    return { backend: 'cpu', label: 'CPU reference, Float64' };
  }
  const rt = gpuRuntime();
  const a = rt.adapter;
  const name = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ');
  adapterLine.dataset.backend = 'webgpu';
  adapterLine.textContent = `WebGPU adapter: ${name} (${a.kind}); kernel plan: ${describeKernelChoice(rt.kernels, a, rt.platform.env)}.`;
  return { backend: 'webgpu', label: 'WebGPU, f32' };
}

async function showDerivation(): Promise<void> {
  const url = new URL('../../engine/ops/sep-batch-norm/derivation.md', import.meta.url);
  const response = await fetch(url);
  byId('derivation').innerHTML = response.ok ? markdownToHtml(await response.text()) : `<p>${url.pathname}: HTTP ${response.status}</p>`;
}

async function main(): Promise<void> {
  const derivation = showDerivation();
  const { backend, label } = await openBackend();
  new WalkthroughPanel(backend, label, serial).request();
  new LandmarkPanel(serial);
  await derivation;
}

main().catch((err: unknown) => {
  const fatal = byId('fatal');
  fatal.hidden = false;
  fatal.textContent = `The page could not start: ${(err as Error).message}`;
});
