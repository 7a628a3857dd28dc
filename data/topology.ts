// The 98-point WFLW topology (data/wflw-topology.json), read once and typed.
import { readFileSync } from 'node:fs';

export const LANDMARK_COUNT = 98;

export interface WflwTopology {
  /** Mean landmark positions (x, y) in the 128x128 network frame. */
  meanShape128: Array<[number, number]>;
  meanInterocular128: number;
  /** flip[i] is the index of point i's mirror partner. */
  flip: number[];
  /** Inclusive index ranges [first, last] of each facial part. */
  parts: Record<string, [number, number]>;
  /** The two points whose distance normalises NME (outer eye corners). */
  interocular: [number, number];
}

let cached: WflwTopology | undefined;

export function wflwTopology(): WflwTopology {
  if (cached) return cached;
  // Read beside the emitted .js, where the .json also lives (the build emits next to the sources).
  const raw = JSON.parse(readFileSync(new URL('./wflw-topology.json', import.meta.url), 'utf8'));
  cached = {
    meanShape128: raw.mean_shape_128,
    meanInterocular128: raw.mean_interocular_128,
    flip: raw.flip,
    parts: raw.parts,
    interocular: raw.interocular,
  };
  return cached;
}
