// The engine's platform in a web page: WebGPU from navigator.gpu, the kernels' WGSL fetched from
// where shaders/ is served (its index.json names each kernel's file, as the page server lists it),
// switches given by the page (its URL parameters), reports on the console.
import { NoGpuError } from '../device.ts';
import type { Platform } from './platform.ts';

/** What to tell a person whose browser gives the page no WebGPU adapter. */
export const BROWSER_ADVICE =
  'This page runs its kernels on the browser\'s WebGPU. Use a browser that has it (Chrome or Edge 113 or newer, ' +
  'recent Firefox and Safari), open the page as http://localhost or https (WebGPU needs a secure ' +
  'context), and check that it is not switched off (chrome://gpu says "WebGPU: Hardware accelerated"). On Linux, ' +
  'Chromium needs --enable-unsafe-webgpu --enable-features=Vulkan; without a GPU it runs WebGPU on SwiftShader, ' +
  'also given --ignore-gpu-blocklist.';

export interface BrowserPlatformOptions {
  /** The URL of the served shaders/ folder (ending in '/'), holding index.json and the .wgsl files. */
  shaders: URL;
  /** Environment switches, e.g. SEPBN_KERNEL_PLAN=naive from the page's URL parameters. */
  env?: Record<string, string>;
  /** Where reports go; the console by default. */
  report?: (line: string) => void;
}

async function fetchText(url: URL): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url.href}: HTTP ${response.status} ${response.statusText}`);
  return response.text();
}

/**
 * Fetches every kernel's WGSL up front (the engine compiles kernels synchronously while it
 * records a step, so their text must be at hand), then gives the platform.
 */
export async function browserPlatform(options: BrowserPlatformOptions): Promise<Platform> {
  const indexUrl = new URL('index.json', options.shaders);
  let index: Record<string, string>;
  try {
    index = JSON.parse(await fetchText(indexUrl));
  } catch (err) {
    throw new Error(`the shader index ${indexUrl.href} cannot be read: ${(err as Error).message}`);
  }
  const sources = new Map(await Promise.all(Object.entries(index).map(async ([kernel, path]) => [kernel, await fetchText(new URL(path, options.shaders))] as const)));
  const report = options.report ?? ((line: string) => console.warn(line));
  return {
    name: 'browser',
    env: Object.freeze({ ...options.env }),
    noGpuAdvice: BROWSER_ADVICE,
    pollsOnSetImmediate: false,
    async gpu() {
      const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
      if (!gpu) throw new NoGpuError('this browser offers no navigator.gpu', BROWSER_ADVICE);
      return gpu;
    },
    shaderSource(kernel) {
      const text = sources.get(kernel);
      if (text === undefined) throw new Error(`no shader ${kernel}.wgsl in ${indexUrl.href}`);
      return text;
    },
    report,
    halt(code) {
      throw new Error(`stopped (status ${code}) after the report above`);
    },
  };
}
