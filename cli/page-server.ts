// The static server behind `node cli/explain.js sepbn --serve`: the teaching page (cli/explain-page/)
// and the emitted engine, nn and models modules it imports, served as they are (ES modules with
// their source maps and TypeScript, so a browser's debugger steps through the sources), the WGSL
// kernels with an index of them by kernel name, the derivation; and, made by data/ on request (it
// reads files, so it stays in Node), synthetic faces and the landmark colours of data/figures/.
// URLs mirror the repository's paths, so the modules' relative imports resolve unchanged.
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '../engine/random.ts';
import { indexShaders, SHADER_DIR } from '../engine/platform/shader-files.ts';
import { cropFace } from '../data/face-crop.ts';
import { encodePng } from '../data/image-io.ts';
import { SYNTHETIC_DEFAULTS } from '../data/synthetic-dataset.ts';
import { drawSyntheticFace } from '../data/synthetic-face.ts';
import { DRAWN_PARTS, landmarkColours } from '../data/figures/landmark-drawing.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const PAGE_PATH = '/cli/explain-page/';

/** The folders a browser may read. */
const SERVED_FOLDERS = ['cli/explain-page/', 'engine/', 'nn/', 'models/', 'shaders/'];

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.wgsl': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
};

export interface PageServer {
  url: string;
  close(): Promise<void>;
}

function send(response: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  // no-store: a rebuilt module must reach the page on its next load.
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(body);
}

/** shaders/index.json: each kernel's file, relative to shaders/, by kernel name (the stem, as the engine looks it up). */
function shaderIndex(): string {
  const shaderRoot = fileURLToPath(SHADER_DIR);
  const index: Record<string, string> = {};
  for (const [kernel, url] of indexShaders()) index[kernel] = relative(shaderRoot, fileURLToPath(url)).split(sep).join('/');
  return JSON.stringify(index);
}

/** A synthetic face as cli/prepare.js would crop it: 256x256, the face box in the central half. */
function syntheticFacePng(seed: number): Uint8Array {
  const face = drawSyntheticFace(new Random(seed, 0), SYNTHETIC_DEFAULTS.size);
  return encodePng(cropFace(face.image, face.box, face.landmarksPx, 'bilinear').image);
}

/** The file a path names, when it lies in a served folder and has a served extension. */
function servedFile(pathname: string): string | undefined {
  const path = decodeURIComponent(pathname).replace(/^\/+/, '');
  const file = resolve(ROOT, path);
  const inside = relative(ROOT, file).split(sep).join('/');
  if (inside.startsWith('..') || !(extname(file) in CONTENT_TYPES)) return undefined;
  return SERVED_FOLDERS.some((folder) => inside.startsWith(folder)) ? file : undefined;
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, 'text/plain', `${request.method} is not served: this server only reads files\n`);
  const url = new URL(request.url ?? '/', 'http://localhost');
  if (url.pathname === '/') {
    // The query goes along: it carries the page's switches (?SEPBN_KERNEL_PLAN=naive).
    response.writeHead(302, { location: `${PAGE_PATH}${url.search}` });
    return void response.end();
  }
  if (url.pathname === '/shaders/index.json') return send(response, 200, CONTENT_TYPES['.json'], shaderIndex());
  if (url.pathname === '/landmark-colours.json') {
    return send(response, 200, CONTENT_TYPES['.json'], JSON.stringify({ parts: DRAWN_PARTS.map(({ name, colour }) => ({ name, colour })), colours: landmarkColours() }));
  }
  if (url.pathname === '/synthetic-face.png') {
    const seed = Number(url.searchParams.get('seed') ?? '1');
    if (!Number.isInteger(seed)) return send(response, 400, 'text/plain', `seed must be an integer, got "${url.searchParams.get('seed')}"\n`);
    return send(response, 200, 'image/png', syntheticFacePng(seed));
  }
  const file = servedFile(url.pathname.endsWith('/') ? `${url.pathname}index.html` : url.pathname);
  const info = file === undefined ? undefined : await stat(file).catch(() => undefined);
  if (!file || !info?.isFile()) {
    return send(response, 404, 'text/plain', `${url.pathname}: not found (this server serves ${SERVED_FOLDERS.join(', ')})\n`);
  }
  send(response, 200, CONTENT_TYPES[extname(file)], await readFile(file));
}

/** Listens on 127.0.0.1 (a secure context, as WebGPU requires) at `port` (0: any free port). */
export function servePage(port: number): Promise<PageServer> {
  const server = createServer((request, response) => {
    handle(request, response).catch((err: unknown) => send(response, 500, 'text/plain', `${(err as Error).message}\n`));
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} is in use: choose another with --port (0: any free port)`) : err),
    );
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as AddressInfo;
      resolvePromise({
        url: `http://127.0.0.1:${bound}/`,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
