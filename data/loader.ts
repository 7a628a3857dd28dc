// Batches of augmented WFLW256 samples for training and testing, made ahead on worker threads.
//   const loader = new WflwLoader({ annotationFile, batchSize: 64, train: true, seed: 1 });
//   for await (const batch of loader.epoch(e)) { ...upload batch.images, batch.landmarks... }
//   await loader.close();
// Independent of the GPU: batches are plain Float32Arrays.
import { Worker } from 'node:worker_threads';
import { PAPER_AUGMENTATION, type AugmentSettings } from './augment.ts';
import { assembleBatch, SHUFFLE_STREAM, type Batch, type BatchRequest } from './batch.ts';
import type { WorkerReply, WorkerRequest } from './loader-worker.ts';
import { Random, shuffledIndices } from '../engine/random.ts';
import { readWflw256, type Wflw256Sample } from './wflw256.ts';

export type { Batch } from './batch.ts';

export interface LoaderOptions {
  /** A WFLW256 annotation file, e.g. DIR/train.txt from cli/prepare.js. */
  annotationFile: string;
  batchSize: number;
  /** Training: augmentation and shuffling on, last partial batch dropped (each overridable below). */
  train: boolean;
  seed?: number;
  /** Worker threads decoding and augmenting ahead (default 2); 0 does the work on the calling thread. */
  workers?: number;
  shuffle?: boolean;
  dropLast?: boolean;
  /** Batches in flight per worker (default 2). */
  prefetch?: number;
  /** Augmentation ranges in training (default: the paper's); null trains on the plain central crops. */
  augment?: AugmentSettings | null;
}

interface PendingReply {
  resolve: (reply: { images: Float32Array; landmarks: Float32Array }) => void;
  reject: (err: Error) => void;
}

export class WflwLoader {
  readonly samples: Wflw256Sample[];
  readonly batchSize: number;
  private readonly seed: number;
  private readonly shuffle: boolean;
  private readonly dropLast: boolean;
  private readonly augment: AugmentSettings | null;
  private readonly workerCount: number;
  private readonly prefetch: number;
  private workers: Worker[] = [];
  private readonly inFlight = new Map<number, PendingReply>();
  private readonly inFlightByWorker = new Map<Worker, Set<number>>();
  private nextRequestId = 0;

  constructor(options: LoaderOptions) {
    if (!(Number.isInteger(options.batchSize) && options.batchSize > 0)) throw new Error(`batch size must be a positive integer, got ${options.batchSize}`);
    this.samples = readWflw256(options.annotationFile);
    if (this.samples.length === 0) throw new Error(`${options.annotationFile}: no samples`);
    this.batchSize = options.batchSize;
    this.seed = options.seed ?? 0;
    this.shuffle = options.shuffle ?? options.train;
    this.dropLast = options.dropLast ?? options.train;
    this.augment = options.train ? (options.augment === undefined ? PAPER_AUGMENTATION : options.augment) : null;
    this.workerCount = options.workers ?? 2;
    this.prefetch = Math.max(1, options.prefetch ?? 2);
  }

  get batchesPerEpoch(): number {
    return this.dropLast ? Math.floor(this.samples.length / this.batchSize) : Math.ceil(this.samples.length / this.batchSize);
  }

  /** The sample indices of each batch of an epoch, shuffled by (seed, epoch) when shuffling is on. */
  epochBatches(epoch: number): number[][] {
    const order = this.shuffle ? shuffledIndices(this.samples.length, new Random(SHUFFLE_STREAM, this.seed, epoch)) : this.samples.map((_, i) => i);
    return Array.from({ length: this.batchesPerEpoch }, (_, b) => order.slice(b * this.batchSize, (b + 1) * this.batchSize));
  }

  /** Batches of one epoch, in order; up to workers x prefetch batches are made ahead. */
  async *epoch(epoch: number): AsyncGenerator<Batch> {
    const requests = this.epochBatches(epoch).map((indices): BatchRequest => ({ indices, epoch, seed: this.seed, augment: this.augment }));
    if (this.workerCount === 0) {
      for (const request of requests) yield assembleBatch(this.samples, request);
      return;
    }
    this.startWorkers();
    const ahead: Array<Promise<{ images: Float32Array; landmarks: Float32Array }>> = [];
    let next = 0;
    const topUp = () => {
      while (next < requests.length && ahead.length < this.workerCount * this.prefetch) {
        const made = this.send(requests[next++]);
        // Not awaited until its turn, and dropped if the consumer stops early: never an unhandled rejection.
        made.catch(() => undefined);
        ahead.push(made);
      }
    };
    for (const request of requests) {
      topUp();
      const arrays = await ahead.shift()!;
      topUp();
      yield { ...arrays, indices: request.indices, paths: request.indices.map((i) => this.samples[i].imageFile) };
    }
  }

  /** Stops the worker threads; the loader can start them again with the next epoch. */
  async close(): Promise<void> {
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private startWorkers(): void {
    if (this.workers.length > 0) return;
    for (let w = 0; w < this.workerCount; w++) {
      const worker = new Worker(new URL('./loader-worker.js', import.meta.url), { workerData: { samples: this.samples } });
      this.inFlightByWorker.set(worker, new Set());
      worker.on('message', (reply: WorkerReply) => this.receive(worker, reply));
      worker.on('error', (err) => this.failWorker(worker, err));
      worker.on('exit', (code) => this.failWorker(worker, new Error(`loader worker exited with code ${code}`)));
      this.workers.push(worker);
    }
  }

  private send(request: BatchRequest): Promise<{ images: Float32Array; landmarks: Float32Array }> {
    // The least busy worker takes the request; the batch does not depend on which one it is.
    const worker = this.workers.reduce((best, w) => (this.inFlightByWorker.get(w)!.size < this.inFlightByWorker.get(best)!.size ? w : best));
    const id = this.nextRequestId++;
    this.inFlightByWorker.get(worker)!.add(id);
    return new Promise((resolve, reject) => {
      this.inFlight.set(id, { resolve, reject });
      worker.postMessage({ ...request, id } satisfies WorkerRequest);
    });
  }

  private receive(worker: Worker, reply: WorkerReply): void {
    const pending = this.inFlight.get(reply.id);
    this.inFlight.delete(reply.id);
    this.inFlightByWorker.get(worker)?.delete(reply.id);
    if (!pending) return;
    if ('error' in reply) pending.reject(new Error(reply.error));
    else pending.resolve(reply);
  }

  private failWorker(worker: Worker, err: Error): void {
    for (const id of this.inFlightByWorker.get(worker) ?? []) {
      this.inFlight.get(id)?.reject(err);
      this.inFlight.delete(id);
    }
    this.inFlightByWorker.delete(worker);
    this.workers = this.workers.filter((w) => w !== worker);
  }
}
