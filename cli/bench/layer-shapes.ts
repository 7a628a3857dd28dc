// The six convolution layers of the full-size Vanilla CNN: input channels, output channels and
// the side of the (square) input, for the conv and SepBN benchmarks.
import { FULL_CHANNELS, INPUT_SIZE } from '../../models/vanilla-cnn.ts';

export interface LayerShape {
  layer: number;
  inChannels: number;
  outChannels: number;
  size: number;
}

export const MODEL_LAYERS: LayerShape[] = FULL_CHANNELS.map((c, i) => ({
  layer: i + 1,
  inChannels: i === 0 ? 3 : FULL_CHANNELS[i - 1],
  outChannels: c,
  size: INPUT_SIZE >> i,
}));

/** Parses --layers 1,3,6 (default: all six). */
export function chooseLayers(value: unknown): LayerShape[] {
  if (value === undefined) return MODEL_LAYERS;
  const wanted = String(value).split(',').map(Number);
  const chosen = MODEL_LAYERS.filter((l) => wanted.includes(l.layer));
  if (chosen.length !== wanted.length) throw new Error(`--layers takes numbers 1 to 6, got "${String(value)}"`);
  return chosen;
}
