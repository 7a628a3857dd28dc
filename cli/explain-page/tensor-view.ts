/// <reference lib="dom" />
// A tensor drawn as a small heatmap table: red above zero, blue below, the colour's depth the
// value's size against the largest in the tensor. A [N, C, H, W] tensor with H·W > 1 is an N x C
// grid of H x W blocks; anything else drops its unit dimensions and shows its last one across.
// Each cell shows three significant digits and holds the full value in data-value (and its tooltip),
// cells in flat (row-major) order, so what the page shows can be read back exactly.

/** Three significant digits, in fixed notation where that stays short. */
export function formatCell(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return String(v);
  const size = Math.abs(v);
  return size >= 1e-3 && size < 1e4 ? String(Number(v.toPrecision(3))) : v.toExponential(1);
}

function colour(v: number, largest: number): string {
  const t = largest > 0 ? Math.min(1, Math.abs(v) / largest) : 0;
  return `hsl(${v >= 0 ? 4 : 215}, 75%, ${(97 - 45 * t).toFixed(1)}%)`;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function cell(values: ArrayLike<number>, index: number, largest: number): HTMLTableCellElement {
  const v = values[index];
  const td = element('td', undefined, formatCell(v));
  td.dataset.index = String(index);
  td.dataset.value = String(v);
  td.title = String(v);
  td.style.background = colour(v, largest);
  return td;
}

/** A header row: an empty corner, then `label=0 .. label=count-1`. */
function headerRow(label: string, count: number): HTMLTableRowElement {
  const tr = element('tr');
  tr.append(element('th'));
  for (let j = 0; j < count; j++) tr.append(element('th', undefined, `${label}${j}`));
  return tr;
}

export function tensorView(values: ArrayLike<number>, shape: number[]): HTMLTableElement {
  let largest = 0;
  for (let i = 0; i < values.length; i++) largest = Math.max(largest, Math.abs(values[i]));
  const table = element('table', 'tensor');
  if (shape.length === 4 && shape[2] * shape[3] > 1) {
    const [N, C, H, W] = shape;
    table.classList.add('blocks');
    table.append(headerRow('c', C));
    for (let n = 0; n < N; n++) {
      const tr = element('tr');
      tr.append(element('th', undefined, `n${n}`));
      for (let c = 0; c < C; c++) {
        const block = element('table', 'block');
        for (let h = 0; h < H; h++) {
          const row = element('tr');
          for (let w = 0; w < W; w++) row.append(cell(values, ((n * C + c) * H + h) * W + w, largest));
          block.append(row);
        }
        const td = element('td', 'holder');
        td.append(block);
        tr.append(td);
      }
      table.append(tr);
    }
    return table;
  }
  const dims = shape.filter((d) => d !== 1);
  const columns = dims.at(-1) ?? 1;
  const rows = values.length / columns;
  // A row's label is its index in each leading dimension, e.g. "1,0" for a[1, 0, :].
  const rowLabel = (r: number) =>
    dims
      .slice(0, -1)
      .reduceRight((labels: number[], d) => {
        labels.unshift(r % d);
        r = Math.floor(r / d);
        return labels;
      }, [])
      .join(',');
  if (rows > 1) table.append(headerRow('', columns));
  for (let r = 0; r < rows; r++) {
    const tr = element('tr');
    if (rows > 1) tr.append(element('th', undefined, rowLabel(r)));
    for (let j = 0; j < columns; j++) tr.append(cell(values, r * columns + j, largest));
    table.append(tr);
  }
  return table;
}
