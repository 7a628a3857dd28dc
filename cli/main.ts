// How every command starts and ends: pick the backend, run, destroy the GPU device so the
// process exits, and turn known failures (no adapter, bad input) into a message, not a trace.
import { shutdown, useBackend } from '../engine/backend.ts';
import { NoGpuError } from '../engine/device.ts';
import type { BackendName } from '../engine/tensor.ts';
import type { OptionSpec } from './args.ts';

export const backendOption: OptionSpec = {
  type: 'string',
  value: 'webgpu|cpu',
  default: 'webgpu',
  help: 'where kernels run: WebGPU (Dawn) or the Float64 CPU reference',
};

export async function openBackend(value: unknown): Promise<BackendName> {
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
      if (err instanceof NoGpuError || err instanceof UsageError) {
        process.stderr.write(`${err.message}\n`);
      } else if (err instanceof Error && process.env.SEPBN_DEBUG !== '1') {
        process.stderr.write(`error: ${err.message}\n(set SEPBN_DEBUG=1 for the stack trace)\n`);
      } else {
        process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      }
      process.exitCode = 1;
    });
}
