// All dispatches' uniform structs live in one buffer: each dispatch takes the next aligned slot
// and binds it with a dynamic offset, so no buffer is created per dispatch. The CPU-side copy is
// written to the GPU once per submit; the ring restarts after each submit, which is safe because
// the queue runs a later writeBuffer only after the earlier submit's commands.

export const RING_BYTES = 1 << 20;
/** Largest uniform struct a kernel may declare. */
export const SLOT_BYTES = 256;

export class UniformRing {
  readonly buffer: GPUBuffer;
  private readonly staging = new Uint8Array(RING_BYTES);
  private used = 0;

  constructor(private readonly device: GPUDevice, private readonly alignment: number) {
    this.buffer = device.createBuffer({ size: RING_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'uniform ring' });
  }

  /** Reserves a slot and copies the struct into it; returns its offset, or -1 when the ring is full. */
  push(bytes: ArrayBuffer): number {
    if (bytes.byteLength > SLOT_BYTES) throw new Error(`uniform struct of ${bytes.byteLength} bytes exceeds ${SLOT_BYTES}`);
    const offset = this.used;
    if (offset + SLOT_BYTES > RING_BYTES) return -1;
    this.staging.set(new Uint8Array(bytes), offset);
    this.used = offset + Math.max(SLOT_BYTES, Math.ceil(bytes.byteLength / this.alignment) * this.alignment);
    return offset;
  }

  /** Uploads the slots used since the last submit and starts over. */
  upload(): void {
    if (this.used > 0) this.device.queue.writeBuffer(this.buffer, 0, this.staging, 0, this.used);
    this.used = 0;
  }

  get isEmpty(): boolean {
    return this.used === 0;
  }
}
