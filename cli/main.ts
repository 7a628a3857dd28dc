// How every command starts and ends: pick the backend, run, destroy the GPU device so the
// process exits, and turn known failures (no adapter, bad input) into a message, not a trace.
import { shutdown, useBackend } from '../engine/backend.ts';
import { DRIVER_INSTALL_HINT, NoGpuError } from '../engine/device.ts';
import type { BackendName } from '../engine/tensor.ts';
import { isWeightsProblem } from '../nn/weights-file.ts';
import type { OptionSpec } from './args.ts';

const BACKEND_HELP = 'where kernels run: WebGPU (Dawn) or the Float64 CPU reference';

/**
 * Without a default: an absent --backend means "WebGPU, or the CPU reference when there is no
 * adapter", so a fresh machine without a Vulkan driver still runs the command.
 */
export const backendOption: OptionSpec = {
  type: 'string',
  value: 'webgpu|cpu',
  help: `${BACKEND_HELP} (default: webgpu, or cpu with a notice when there is no WebGPU adapter)`,
};

/** --backend with a fixed default and no fallback, for commands whose point is one backend (benchmarks and checks of the WebGPU kernels). */
export function backendOptionDefaulting(name: BackendName): OptionSpec {
  return { type: 'string', value: 'webgpu|cpu', default: name, help: BACKEND_HELP };
}

export async function openBackend(value: unknown): Promise<BackendName> {
  if (value === undefined) {
    try {
      await useBackend('webgpu');
      return 'webgpu';
    } catch (err) {
      if (!(err instanceof NoGpuError)) throw err;
      process.stderr.write(
        `notice: no WebGPU adapter (${err.detail}); running on the CPU reference instead, several times slower. ` +
          `For the GPU path, ${DRIVER_INSTALL_HINT}; --backend webgpu makes this an error.\n`,
      );
      await useBackend('cpu');
      return 'cpu';
    }
  }
  if (value !== 'webgpu' && value !== 'cpu') throw new UsageError(`--backend must be webgpu or cpu, got "${String(value)}"`);
  await useBackend(value);
  return value;
}

/** An error whose message is the whole story (bad flags, bad files): printed without a stack. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function runMain(main: () => Promise<void>): void {
  main()
    .then(() => {
      shutdown();
    })
    .catch((err: unknown) => {
      shutdown();
      // A weights file that cannot be read, is refused or does not fit the network: its one line names the file and says it all.
      if (err instanceof NoGpuError || err instanceof UsageError || isWeightsProblem(err)) {
        process.stderr.write(`${err.message}\n`);
      } else if (err instanceof Error && process.env.SEPBN_DEBUG !== '1') {
        process.stderr.write(`error: ${err.message}\n(set SEPBN_DEBUG=1 for the stack trace)\n`);
      } else {
        process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      }
      process.exitCode = 1;
    });
}
