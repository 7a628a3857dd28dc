// The seam between the engine and what it runs on. The engine needs a handful of things its host
// provides differently: a WebGPU entry point (Dawn in Node, navigator.gpu in a page), the WGSL text
// of its kernels (files on disk, or fetched), environment switches (process.env, or a page's URL
// parameters), and somewhere to tell a person what went wrong (stderr, or the console). Node's
// side is ./node.ts, a page's ./browser.ts; the engine asks this module and never imports
// `node:*`, `webgpu` or `navigator` itself, so its modules load unchanged in a browser.
//
// Node needs no set-up: the first device opened loads ./node.ts (a dynamic import, so a page that
// installs its own platform first never fetches it). A page calls installPlatform before opening one.

export interface Platform {
  /** 'node' or 'browser', for messages. */
  readonly name: string;
  /**
   * The environment switches (SEPBN_KERNEL_PLAN, SEPBN_PRINT_WGSL, SEPBN_CHECK_NAN, ...), read
   * when used: Node's live process.env, a page's URL parameters.
   */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** What to tell a person whose host offers no WebGPU adapter (NoGpuError's second half). */
  readonly noGpuAdvice: string;
  /**
   * Whether waits on a software adapter should slow Dawn's setImmediate poll so the rasteriser
   * keeps the CPU (webgpu/patient-wait.ts): true for Node's Dawn binding; a browser polls its own way.
   */
  readonly pollsOnSetImmediate: boolean;
  /** The WebGPU entry point; throws NoGpuError (saying what to install or enable) where there is none. */
  gpu(): Promise<GPU>;
  /** A kernel's WGSL by its name (its file's stem); throws an Error saying where it looked. */
  shaderSource(kernel: string): string;
  /** A line for a person, apart from the results (stderr in Node, the console in a page). */
  report(line: string): void;
  /** Stops the program after a report that leaves nothing to go on with (exits in Node, throws in a page). */
  halt(code: number): never;
}

let installed: Platform | undefined;
let loading: Promise<Platform> | undefined;

/** Makes `platform` the one the engine uses; a page calls this before opening the WebGPU backend. */
export function installPlatform(platform: Platform): void {
  installed = platform;
}

/** The platform in force, loading Node's on first use when none was installed. */
export function loadPlatform(): Promise<Platform> {
  if (installed) return Promise.resolve(installed);
  loading ??= import('./node.ts').then((node) => (installed ??= node.nodePlatform));
  return loading;
}

/** The platform in force, for synchronous callers that run after the device is open (which loads it). */
export function currentPlatform(): Platform {
  if (!installed) {
    throw new Error('no platform is loaded yet: opening the WebGPU backend (useBackend("webgpu")) loads Node\'s, and a page installs its own with installPlatform');
  }
  return installed;
}
