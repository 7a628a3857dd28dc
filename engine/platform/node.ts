// The engine's platform in Node: WebGPU from Dawn (the npm package `webgpu`), kernels read from
// shaders/ on the disk, switches from process.env, reports on stderr. platform.ts loads it when
// the first device opens and no other platform was installed.
import { existsSync, readdirSync } from 'node:fs';
import { delimiter } from 'node:path';
import { create, globals } from 'webgpu';
import { NoGpuError, VULKAN_ADVICE } from '../device.ts';
import type { Platform } from './platform.ts';
import { readShaderFile } from './shader-files.ts';

// Dawn's GPUBufferUsage, GPUMapMode and friends become globals, as in a browser.
Object.assign(globalThis, globals);

let dawnGpu: GPU | undefined;

function dawn(): GPU {
  // Timestamp queries are quantized by default (a browser's guard against timing attacks); a
  // headless engine profiling its own kernels wants them exact.
  dawnGpu ??= create(['disable-dawn-features=timestamp_quantization']);
  return dawnGpu;
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

export const nodePlatform: Platform = {
  name: 'node',
  env: process.env,
  noGpuAdvice: VULKAN_ADVICE,
  pollsOnSetImmediate: true,
  async gpu() {
    const missing = vulkanDriverMissing();
    if (missing) throw new NoGpuError(missing);
    return dawn();
  },
  shaderSource: readShaderFile,
  report(line) {
    process.stderr.write(`${line}\n`);
  },
  halt(code) {
    process.exit(code);
  },
};
