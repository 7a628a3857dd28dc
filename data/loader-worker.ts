// Worker thread of WflwLoader: receives batch requests, answers with the batch's arrays (transferred,
// not copied) or with the error message.
import { parentPort, workerData } from 'node:worker_threads';
import { assembleBatch, type BatchRequest } from './batch.ts';
import type { Wflw256Sample } from './wflw256.ts';

export interface WorkerRequest extends BatchRequest {
  id: number;
}

export type WorkerReply = { id: number; images: Float32Array; landmarks: Float32Array } | { id: number; error: string };

const samples = (workerData as { samples: Wflw256Sample[] }).samples;
const port = parentPort!;

port.on('message', (request: WorkerRequest) => {
  try {
    const batch = assembleBatch(samples, request);
    const reply: WorkerReply = { id: request.id, images: batch.images, landmarks: batch.landmarks };
    port.postMessage(reply, [batch.images.buffer as ArrayBuffer, batch.landmarks.buffer as ArrayBuffer]);
  } catch (err) {
    port.postMessage({ id: request.id, error: (err as Error).message } satisfies WorkerReply);
  }
});
