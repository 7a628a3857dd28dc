// Per-layer output shape, parameters and multiply-accumulates of the Vanilla CNN, from its
// configuration (test/models checks the parameter counts against a built model).
import { INPUT_SIZE, LANDMARKS, stageChannels, type VanillaCnnConfig } from './vanilla-cnn.ts';

export interface SummaryRow {
  layer: string;
  outputShape: number[];
  parameters: number;
  macs: number;
}

export interface Summary {
  rows: SummaryRow[];
  totalParameters: number;
  totalMacs: number;
  /** How MACs are counted, printed under the table. */
  convention: string;
}

export const MAC_CONVENTION =
  'MACs per image: convolutions and linear layers count one multiply-accumulate per weight per output ' +
  'position (biases not counted); BatchNorm counts 2 per element (normalise, then scale and shift); SepBN ' +
  'counts its K BatchNorms at 2 per element each as the reference computes them, K per element to mix ' +
  'them by the attention, 1 per element for the average pool, and its two 1x1 convolutions; LeakyReLU ' +
  'and max pooling count none.';

export function summarize(config: VanillaCnnConfig): Summary {
  const rows: SummaryRow[] = [];
  const channels = stageChannels(config.width);
  let inChannels = 3;
  let size = INPUT_SIZE;
  channels.forEach((c, i) => {
    const elements = c * size * size;
    rows.push({ layer: `conv${i + 1}`, outputShape: [c, size, size], parameters: c * inChannels * 9 + c, macs: elements * inChannels * 9 });
    if (config.norm === 'bn') rows.push({ layer: `bn${i + 1}`, outputShape: [c, size, size], parameters: 2 * c, macs: 2 * elements });
    if (config.norm === 'sepbn') {
      const { K, ratio, groups } = config.sepbn;
      const hidden = Math.max(1, Math.floor(ratio * c));
      const attention = hidden * c + K * groups * hidden;
      rows.push({
        layer: `bn${i + 1} (SepBN K=${K})`,
        outputShape: [c, size, size],
        parameters: 2 * K * c + attention,
        macs: 2 * K * elements + K * elements + elements + attention,
      });
    }
    size /= 2;
    rows.push({ layer: `pool${i + 1}`, outputShape: [c, size, size], parameters: 0, macs: 0 });
    inChannels = c;
  });
  const flat = inChannels * size * size;
  const hidden = 2048 / config.width;
  rows.push({ layer: 'fc1', outputShape: [hidden], parameters: flat * hidden + hidden, macs: flat * hidden });
  rows.push({ layer: 'fc2', outputShape: [2 * LANDMARKS], parameters: hidden * 2 * LANDMARKS + 2 * LANDMARKS, macs: hidden * 2 * LANDMARKS });
  return {
    rows,
    totalParameters: rows.reduce((a, r) => a + r.parameters, 0),
    totalMacs: rows.reduce((a, r) => a + r.macs, 0),
    convention: MAC_CONVENTION,
  };
}
