// Compiles each (shader, entry point, override constants) once and keeps the pipeline, with
// bind-group layouts built from the launch's access list so that every kernel follows one
// binding convention (storage buffers, then the `params` uniform bound with a dynamic offset).
// The WGSL text comes from the platform (platform/platform.ts): files under shaders/ in Node, the
// same files fetched in a page.
import type { Platform } from '../platform/platform.ts';
import type { Access, KernelLaunch } from './launch.ts';
import { expandUnrolled } from './unroll.ts';

export class KernelError extends Error {
  constructor(kernel: string, describe: string, message: string) {
    super(`kernel ${kernel} (${describe}): ${message}`);
    this.name = 'KernelError';
  }
}

export interface CompiledKernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  layoutKey: string;
}

export class PipelineCache {
  private readonly sources = new Map<string, string>();
  private readonly printWgsl: boolean;
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly pipelines = new Map<string, CompiledKernel>();
  /** Compile and validation checks still to be awaited, reported at the next flush. */
  readonly pendingChecks: Promise<void>[] = [];

  constructor(private readonly device: GPUDevice, private readonly platform: Platform) {
    this.printWgsl = platform.env.SEPBN_PRINT_WGSL === '1';
  }

  source(kernel: string): string {
    let text = this.sources.get(kernel);
    if (text === undefined) {
      try {
        text = this.platform.shaderSource(kernel);
      } catch (err) {
        throw new KernelError(kernel, 'no shapes', (err as Error).message);
      }
      this.sources.set(kernel, text);
    }
    return text;
  }

  layout(access: Access[]): { layout: GPUBindGroupLayout; key: string } {
    const key = access.map((a) => (a === 'read' ? 'r' : 'w')).join('');
    let layout = this.layouts.get(key);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = access.map((a, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: a === 'read' ? 'read-only-storage' : 'storage' },
      }));
      entries.push({
        binding: access.length,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: 0 },
      });
      layout = this.device.createBindGroupLayout({ entries, label: `layout ${key}` });
      this.layouts.set(key, layout);
    }
    return { layout, key };
  }

  get(launch: KernelLaunch): CompiledKernel {
    const entryPoint = launch.entryPoint ?? 'main';
    const constants = launch.constants ?? {};
    const constantKey = Object.keys(constants).sort().map((k) => `${k}=${constants[k]}`).join(',');
    const unrollKey = Object.keys(launch.unroll ?? {}).sort().map((k) => `${k}=${launch.unroll![k]}`).join(',');
    const key = `${launch.kernel}:${entryPoint}:${constantKey}:${unrollKey}:${launch.access.join(',')}`;
    const cached = this.pipelines.get(key);
    if (cached) return cached;

    const source = this.source(launch.kernel);
    const code = launch.unroll ? expandUnrolled(source, launch.unroll, `${launch.kernel}.wgsl`) : source;
    if (this.printWgsl) this.platform.report(`--- compiling ${launch.kernel}.wgsl ${entryPoint} {${constantKey}} {${unrollKey}}\n${code}`);
    const { layout, key: layoutKey } = this.layout(launch.access);
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: launch.kernel });
    const pipeline = this.device.createComputePipeline({
      label: `${launch.kernel}.${entryPoint}`,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint, constants },
    });
    const describe = launch.describe;
    this.pendingChecks.push(
      this.device.popErrorScope().then(async (error) => {
        if (!error) return;
        const info = await module.getCompilationInfo();
        const file = launch.unroll ? `${launch.kernel}.wgsl (unrolled; SEPBN_PRINT_WGSL=1 prints it)` : `${launch.kernel}.wgsl`;
        const lines = info.messages.map((m) => `  ${file}:${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`);
        throw new KernelError(launch.kernel, describe, [error.message, ...lines].join('\n'));
      }),
    );
    const compiled = { pipeline, layout, layoutKey };
    this.pipelines.set(key, compiled);
    return compiled;
  }
}
