// Finds the WebGPU adapter (Dawn through the npm package `webgpu`), opens one device for the
// process, and says plainly what to install when there is none.
import { existsSync, readdirSync } from 'node:fs';
import { delimiter } from 'node:path';
import { create, globals } from 'webgpu';

/** The shortest useful install advice, for one-line notices; NoGpuError's paragraph says more. */
export const DRIVER_INSTALL_HINT =
  'install a Vulkan driver (without a GPU: apt-get install libvulkan1 mesa-vulkan-drivers, Mesa 23 or newer; see the README)';

export class NoGpuError extends Error {
  /** What was missing, e.g. "requestAdapter returned none", for notices shorter than the message. */
  constructor(readonly detail: string) {
    super(
      `No WebGPU adapter was found (${detail}). This program runs its kernels through Dawn's Vulkan ` +
        `backend, so it needs a Vulkan driver: on a machine with a GPU install the vendor's Vulkan ` +
        `driver and the Vulkan loader (Debian/Ubuntu: libvulkan1); on a machine without one install ` +
        `Mesa's software driver lavapipe, version 23 or newer (Debian 12: apt-get install libvulkan1 ` +
        `and, from bookworm-backports, mesa-vulkan-drivers; Debian 13 or Ubuntu 24.04: apt-get install ` +
        `libvulkan1 mesa-vulkan-drivers). Mesa 22 is too old: Dawn rejects it. Check the driver with ` +
        `"node cli/device.js". Every command also runs without a GPU, slowly, with --backend cpu.`,
    );
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

// Dawn's GPUBufferUsage, GPUMapMode and friends become globals, as in a browser.
Object.assign(globalThis, globals);

let gpu: GPU | undefined;
let opened: Promise<{ device: GPUDevice; adapter: AdapterSummary }> | undefined;
let openDevice: GPUDevice | undefined;

function dawn(): GPU {
  // Timestamp queries are quantized by default (a browser's guard against timing attacks); a
  // headless engine profiling its own kernels wants them exact.
  gpu ??= create(['disable-dawn-features=timestamp_quantization']);
  return gpu;
}

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

const ICD_DIRECTORIES = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

/**
 * Where the Vulkan loader would find no driver at all, say so before asking Dawn, whose own
 * report of that case is a page of native warnings.
 */
function vulkanDriverMissing(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  // The loader reads VK_DRIVER_FILES first and the older VK_ICD_FILENAMES otherwise; name the one in force.
  const variable = process.env.VK_DRIVER_FILES !== undefined ? 'VK_DRIVER_FILES' : 'VK_ICD_FILENAMES';
  const listed = process.env[variable];
  if (listed !== undefined) {
    const files = listed.split(delimiter).filter(Boolean);
    return files.some((f) => existsSync(f)) ? undefined : `none of the Vulkan driver files in ${variable} exist: ${listed}`;
  }
  const found = ICD_DIRECTORIES.some((dir) => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.json')));
  return found ? undefined : `no Vulkan driver is installed (${ICD_DIRECTORIES.join(', ')} hold no driver file)`;
}

/** The process's one device, opened on first use with the adapter's own limits (not the defaults). */
export function acquireDevice(): Promise<{ device: GPUDevice; adapter: AdapterSummary }> {
  opened ??= (async () => {
    const missing = vulkanDriverMissing();
    if (missing) throw new NoGpuError(missing);
    const adapter = await dawn().requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new NoGpuError('requestAdapter returned none');
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
        process.stderr.write(`WebGPU device lost (${info.reason}): ${info.message}\n`);
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
