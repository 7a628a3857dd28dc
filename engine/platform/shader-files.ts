// Node only: the kernels' WGSL files under shaders/, found by their stems and read from the disk.
// The page server (cli/page-server.ts) lists the same index for a browser to fetch.
import { readdirSync, readFileSync } from 'node:fs';

export const SHADER_DIR = new URL('../../shaders/', import.meta.url);

/**
 * Every shader file under shaders/ by its stem, which is the kernel's name: subfolders group a
 * family's kernels for the reader (shaders/conv2d/hardware/, .../software/, .../naive/), and a
 * stem may be used only once in the tree.
 */
export function indexShaders(): Map<string, URL> {
  const files = new Map<string, URL>();
  for (const entry of readdirSync(SHADER_DIR, { recursive: true, encoding: 'utf8' })) {
    const path = entry.split('\\').join('/');
    if (!path.endsWith('.wgsl')) continue;
    const stem = path.slice(path.lastIndexOf('/') + 1, -'.wgsl'.length);
    const url = new URL(path, SHADER_DIR);
    const earlier = files.get(stem);
    if (earlier) throw new Error(`shaders ${earlier.pathname} and ${url.pathname} have the same name; a kernel's name must be unique`);
    files.set(stem, url);
  }
  return files;
}

let index: Map<string, URL> | undefined;

/** A kernel's WGSL, read from its file on first use (the index is built once). */
export function readShaderFile(kernel: string): string {
  index ??= indexShaders();
  const url = index.get(kernel);
  if (!url) throw new Error(`no shader file ${kernel}.wgsl under ${SHADER_DIR.pathname}`);
  try {
    return readFileSync(url, 'utf8');
  } catch {
    throw new Error(`shader file ${url.pathname} cannot be read`);
  }
}
