// Finds the WebGPU adapter (Dawn in Node, navigator.gpu in a page: see platform/), opens one
// device for the program, and says plainly what to install when there is none.
import { loadPlatform } from './platform/platform.ts';

/** The shortest useful install advice, for one-line notices; NoGpuError's paragraph says more. */
export const DRIVER_INSTALL_HINT =
  'install a Vulkan driver (without a GPU: apt-get install libvulkan1 mesa-vulkan-drivers, Mesa 23 or newer; see the README)';

/** What Node's NoGpuError says to do: Dawn needs a Vulkan driver. */
export const VULKAN_ADVICE =
  `This program runs its kernels through Dawn's Vulkan ` +
  `backend, so it needs a Vulkan driver: on a machine with a GPU install the vendor's Vulkan ` +
  `driver and the Vulkan loader (Debian/Ubuntu: libvulkan1); on a machine without one install ` +
  `Mesa's software driver lavapipe, version 23 or newer (Debian 12: apt-get install libvulkan1 ` +
  `and, from bookworm-backports, mesa-vulkan-drivers; Debian 13 or Ubuntu 24.04: apt-get install ` +
  `libvulkan1 mesa-vulkan-drivers). Mesa 22 is too old: Dawn rejects it. Check the driver with ` +
  `"node cli/device.js". Every command also runs without a GPU, slowly, with --backend cpu.`;

export class NoGpuError extends Error {
  /**
   * detail: what was missing, e.g. "requestAdapter returned none", for notices shorter than the
   * message; advice: what to do about it on this platform (Node's: install a Vulkan driver).
   */
  constructor(readonly detail: string, advice: string = VULKAN_ADVICE) {
    super(`No WebGPU adapter was found (${detail}). ${advice}`);
    this.name = 'NoGpuError';
  }
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  kind: 'software' | 'hardware';
  /** Set where the device has subgroups and all of them have this size (8 on lavapipe with AVX2). */
  subgroupSize?: number;
  features: string[];
  limits: Record<string, number>;
}

/** Limits this engine depends on, reported by `node cli/device.js` and requested at device creation. */
const KEY_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'minStorageBufferOffsetAlignment',
  'minUniformBufferOffsetAlignment',
] as const;

/** Optional features used where the adapter has them. */
const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups'];

let opened: Promise<{ device: GPUDevice; adapter: AdapterSummary }> | undefined;
let openDevice: GPUDevice | undefined;

function summarise(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const name of KEY_LIMITS) limits[name] = Number((adapter.limits as unknown as Record<string, number>)[name]);
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  const software = info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software/.test(text);
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    kind: software ? 'software' : 'hardware',
    subgroupSize: adapter.features.has('subgroups') && info.subgroupMinSize === info.subgroupMaxSize ? info.subgroupMinSize : undefined,
    features: [...adapter.features].map(String).sort(),
    limits,
  };
}

/** The program's one device, opened on first use with the adapter's own limits (not the defaults). */
export function acquireDevice(): Promise<{ device: GPUDevice; adapter: AdapterSummary }> {
  opened ??= (async () => {
    const platform = await loadPlatform();
    const gpu = await platform.gpu();
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new NoGpuError('requestAdapter returned none', platform.noGpuAdvice);
    const summary = summarise(adapter);
    const requiredLimits: Record<string, number> = {};
    for (const name of KEY_LIMITS) {
      if (!name.startsWith('min')) requiredLimits[name] = summary.limits[name];
    }
    const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
    openDevice = device;
    device.lost.then((info) => {
      if (info.reason !== 'destroyed') {
        platform.report(`WebGPU device lost (${info.reason}): ${info.message}`);
      }
    });
    return { device, adapter: summary };
  })();
  return opened;
}

/** Destroys the device so the process can exit: Dawn keeps a thread busy while a device lives. */
export function releaseDevice(): void {
  openDevice?.destroy();
  openDevice = undefined;
  opened = undefined;
}
