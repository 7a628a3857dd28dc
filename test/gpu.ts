// Opens the WebGPU backend for a test file and closes it when the file's tests end, so the
// process exits. Without an adapter the tests fail with the install paragraph, unless
// SEPBN_SKIP_GPU=1 says this machine is known to have none.
import type { Test } from 'tap';
import { shutdown, useBackend } from '../engine/backend.ts';

export async function withGpu(t: Test): Promise<boolean> {
  if (process.env.SEPBN_SKIP_GPU === '1') {
    t.comment('SEPBN_SKIP_GPU=1: WebGPU checks skipped');
    t.pass('WebGPU checks skipped by request');
    return false;
  }
  await useBackend('webgpu');
  await useBackend('cpu');
  t.teardown(shutdown);
  return true;
}
