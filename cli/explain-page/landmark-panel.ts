/// <reference lib="dom" />
// The landmark panel: a checkpoint (safetensors, from the file picker) and a face (an image file,
// or a synthetic face the page server draws) through the network in eval mode on the page's
// backend; the 98 landmarks drawn on what the network saw, coloured by facial part, and each SepBN
// layer's attention over its K parameter sets for this face. #landmark-status carries data-state
// (idle, computing, done, error) as the walkthrough's status does.
import { tensor } from '../../engine/create.ts';
import { scope } from '../../engine/scope.ts';
import { noGrad } from '../../engine/tensor.ts';
import { INPUT_SIZE, LANDMARKS } from '../../models/vanilla-cnn.ts';
import { disposeModel, loadCheckpoint, type LoadedCheckpoint } from './checkpoint.ts';
import { faceImage, type FaceImage } from './face-image.ts';

const SVG = 'http://www.w3.org/2000/svg';

interface LandmarkColours {
  parts: Array<{ name: string; colour: [number, number, number] }>;
  colours: Array<[number, number, number]>;
}

interface Prediction {
  /** x y interleaved, pixels of the 128x128 input. */
  landmarks: Float32Array;
  /** Each SepBN layer's attention [1, G, K] for this face. */
  attention: Array<{ name: string; shape: number[]; values: Float32Array }>;
}

function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
}

const rgb = ([r, g, b]: [number, number, number]) => `rgb(${r},${g},${b})`;

export class LandmarkPanel {
  private readonly status = byId<HTMLElement>('landmark-status');
  private readonly view = byId<HTMLElement>('face-view');
  private readonly attentionView = byId<HTMLElement>('attention');
  private checkpoint: (LoadedCheckpoint & { name: string }) | undefined;
  private face: FaceImage | undefined;
  private colours: Promise<LandmarkColours>;

  constructor(private readonly run: <T>(task: () => Promise<T>) => Promise<T>) {
    this.colours = fetch('/landmark-colours.json').then((r) => r.json() as Promise<LandmarkColours>);
    const checkpointInput = byId<HTMLInputElement>('checkpoint');
    const faceInput = byId<HTMLInputElement>('face');
    checkpointInput.addEventListener('change', () => {
      const file = checkpointInput.files?.[0];
      if (file) void this.act(() => this.loadCheckpoint(file));
    });
    faceInput.addEventListener('change', () => {
      const file = faceInput.files?.[0];
      if (file) void this.act(async () => this.setFace(await faceImage(file, file.name)));
    });
    byId('synthetic').addEventListener('click', () => void this.act(() => this.syntheticFace()));
    this.say('idle', 'load a checkpoint (.safetensors, e.g. runs/sepbn-w16-s1/last.safetensors) and a face, or draw a synthetic one');
  }

  private say(state: string, text: string): void {
    this.status.dataset.state = state;
    this.status.textContent = text;
  }

  /** One action at a time on the engine, with its errors shown in the panel. */
  private async act(action: () => Promise<void>): Promise<void> {
    this.say('computing', 'computing…');
    try {
      await this.run(action);
      await this.predictIfReady();
    } catch (err) {
      this.say('error', `error: ${(err as Error).message}`);
    }
  }

  private async loadCheckpoint(file: File): Promise<void> {
    const loaded = loadCheckpoint(file.name, new Uint8Array(await file.arrayBuffer()));
    if (this.checkpoint) disposeModel(this.checkpoint.model);
    this.checkpoint = { ...loaded, name: file.name };
  }

  private async syntheticFace(): Promise<void> {
    const seed = Math.trunc(Number(byId<HTMLInputElement>('face-seed').value));
    const response = await fetch(`/synthetic-face.png?seed=${seed}`);
    if (!response.ok) throw new Error(`synthetic face ${seed}: HTTP ${response.status} ${await response.text()}`);
    this.setFace(await faceImage(await response.blob(), `synthetic face ${seed}`));
  }

  private setFace(face: FaceImage): void {
    this.face = face;
    this.draw(undefined, undefined);
  }

  private async predictIfReady(): Promise<void> {
    const { checkpoint, face } = this;
    if (!checkpoint || !face) {
      this.say('idle', checkpoint ? `${checkpoint.name} loaded; now a face` : face ? `${face.how}; now a checkpoint` : 'load a checkpoint and a face');
      return;
    }
    const prediction = await this.run(() => this.predict(checkpoint, face));
    this.draw(prediction, await this.colours);
    const { config } = checkpoint.model;
    this.say(
      'done',
      `${checkpoint.name} (${config.norm}, width 1/${config.width}, configuration from its ${checkpoint.configSource}, temperature ${checkpoint.temperature}) on ${face.how}: ` +
        `${prediction.landmarks.length / 2} landmarks, ${prediction.attention.length} SepBN layers`,
    );
  }

  private predict(checkpoint: LoadedCheckpoint, face: FaceImage): Promise<Prediction> {
    const { model } = checkpoint;
    return scope(() =>
      noGrad(async () => {
        const output = model.forward(tensor(face.input, [1, 3, INPUT_SIZE, INPUT_SIZE], { label: 'face' }));
        const landmarks = Float32Array.from(await output.toArray());
        const attention = [];
        for (const layer of model.sepBnLayers) {
          // lastAttention lives until this scope ends: read it now.
          const a = layer.lastAttention!;
          attention.push({ name: `bn${model.norms.indexOf(layer) + 1}`, shape: [...a.shape], values: Float32Array.from(await a.toArray()) });
        }
        return { landmarks, attention };
      }),
    );
  }

  /** The face as the network saw it, with the landmarks and the attention once predicted. */
  private draw(prediction: Prediction | undefined, colours: LandmarkColours | undefined): void {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', `0 0 ${INPUT_SIZE} ${INPUT_SIZE}`);
    svg.setAttribute('id', 'face-svg');
    const image = document.createElementNS(SVG, 'image');
    image.setAttribute('href', this.face!.canvas.toDataURL());
    image.setAttribute('width', String(INPUT_SIZE));
    image.setAttribute('height', String(INPUT_SIZE));
    svg.append(image);
    this.view.replaceChildren(svg);
    this.attentionView.replaceChildren();
    byId('face-legend').replaceChildren();
    if (prediction && colours) {
      this.drawLandmarks(svg, prediction, colours);
      this.drawAttention(prediction);
    }
  }

  private drawLandmarks(svg: SVGSVGElement, prediction: Prediction, { colours, parts }: LandmarkColours): void {
    for (let i = 0; i < LANDMARKS; i++) {
      const circle = document.createElementNS(SVG, 'circle');
      circle.setAttribute('class', 'landmark');
      circle.setAttribute('cx', String(prediction.landmarks[2 * i]));
      circle.setAttribute('cy', String(prediction.landmarks[2 * i + 1]));
      circle.setAttribute('r', '1.3');
      circle.setAttribute('fill', rgb(colours[i]));
      circle.dataset.index = String(i);
      const title = document.createElementNS(SVG, 'title');
      title.textContent = `point ${i}: (${prediction.landmarks[2 * i].toFixed(1)}, ${prediction.landmarks[2 * i + 1].toFixed(1)})`;
      circle.append(title);
      svg.append(circle);
    }
    const legend = byId('face-legend');
    legend.replaceChildren(
      ...parts.map(({ name, colour }) => {
        const item = document.createElement('span');
        item.style.setProperty('--swatch', rgb(colour));
        item.textContent = name;
        return item;
      }),
    );
  }

  /** One row of K bars per layer and group: the share each parameter set gets in this face's scale and shift. */
  private drawAttention(prediction: Prediction): void {
    if (!prediction.attention.length) {
      this.attentionView.textContent = 'this checkpoint has no SepBN layers, so there is no attention to show';
      return;
    }
    for (const layer of prediction.attention) {
      const [, G, K] = layer.shape;
      const block = document.createElement('div');
      block.className = 'layer';
      block.dataset.name = layer.name;
      block.dataset.values = JSON.stringify(Array.from(layer.values));
      const title = document.createElement('h4');
      title.textContent = `${layer.name}: a[g, k]`;
      block.append(title);
      for (let g = 0; g < G; g++) {
        const row = document.createElement('div');
        row.className = 'bars';
        for (let k = 0; k < K; k++) {
          const a = layer.values[g * K + k];
          const bar = document.createElement('span');
          bar.className = 'bar';
          bar.style.setProperty('--share', String(a));
          bar.title = `group ${g}, set ${k}: a = ${a}`;
          bar.textContent = `${G > 1 ? `g${g} ` : ''}k${k} ${a.toFixed(3)}`;
          row.append(bar);
        }
        block.append(row);
      }
      this.attentionView.append(block);
    }
  }
}
