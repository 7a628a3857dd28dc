// Opens the WebGPU backend for a test file and closes it when the file's tests end, so the
// process exits. Without an adapter the tests fail with the install paragraph, unless
// SEPBN_SKIP_GPU=1 says this machine is known to have none: then they are reported as skipped.
import type { Test } from 'tap';
import { shutdown, useBackend } from '../engine/backend.ts';

/**
 * True, after recording a skip in `t`, when SEPBN_SKIP_GPU=1. Tests that run GPU commands in a
 * child process call this directly; in-process tests call withGpu.
 */
export function gpuSkipped(t: Test): boolean {
  if (process.env.SEPBN_SKIP_GPU !== '1') return false;
  // A skipped assertion, not a pass, so tap's summary counts what did not run.
  t.pass('WebGPU checks', { skip: 'SEPBN_SKIP_GPU=1: this machine has no WebGPU adapter' });
  return true;
}

export async function withGpu(t: Test): Promise<boolean> {
  if (gpuSkipped(t)) return false;
  await useBackend('webgpu');
  await useBackend('cpu');
  t.teardown(shutdown);
  return true;
}
