#!/usr/bin/env node
// Serves the demo on localhost: www/ at /, and the edgeinfer package (its js/ and dist/) at
// /edgeinfer/, where the page's import map expects it. Node only, no dependencies.
//
//   node scripts/serve.mjs [--port 8080] [--host 127.0.0.1]
//
// EDGEINFER_PACKAGE names the package directory to serve (an installed tarball, say);
// by default, this checkout.
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const packageDir = resolve(process.env.EDGEINFER_PACKAGE ?? root);

/** URL prefix to directory, most specific first. Nothing else of the package is served. */
const ROUTES = [
  ['/edgeinfer/js/', join(packageDir, 'js')],
  ['/edgeinfer/dist/', join(packageDir, 'dist')],
  ['/', join(root, 'www')],
];

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ts': 'text/plain; charset=utf-8',
};

/** The file a URL path names, or null: never outside the route's directory. */
function fileFor(pathname) {
  for (const [prefix, dir] of ROUTES) {
    if (!pathname.startsWith(prefix)) continue;
    let rest = pathname.slice(prefix.length);
    if (rest === '' || rest.endsWith('/')) rest += 'index.html';
    const file = resolve(dir, `.${sep}${rest}`);
    return file.startsWith(dir + sep) ? file : null;
  }
  return null;
}

async function handle(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
  } catch {
    res.writeHead(400).end('bad request');
    return;
  }
  const file = pathname.includes('\0') ? null : fileFor(pathname);
  const info = file && (await stat(file).catch(() => null));
  if (!info?.isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
    return;
  }
  const lastModified = new Date(Math.floor(info.mtimeMs / 1000) * 1000);
  const since = Date.parse(req.headers['if-modified-since'] ?? '');
  // no-cache: the browser (and the service worker's refresh) asks each time, and gets a 304 when nothing changed.
  const headers = {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'cache-control': 'no-cache',
    'last-modified': lastModified.toUTCString(),
    'x-content-type-options': 'nosniff',
    // Cross-origin isolated, so that the page may share memory with Workers: edgeinfer runs
    // a model on several threads only then (its docs/threads.md).
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-embedder-policy': 'require-corp',
  };
  if (!Number.isNaN(since) && lastModified.getTime() <= since) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': info.size });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.PORT ?? '8080' },
      host: { type: 'string', default: '127.0.0.1' },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a port number, got ${values.port}`);
    process.exit(2);
  }
  if (!existsSync(join(packageDir, 'dist', 'edgeinfer_bg.wasm'))) {
    console.warn(
      `warning: ${join(packageDir, 'dist')} has no edgeinfer_bg.wasm: build it with scripts/build.sh (npm start does)`,
    );
  }
  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      console.error(e);
      if (!res.headersSent) res.writeHead(500).end('internal error');
      else res.destroy();
    });
  });
  server.on('error', (e) => {
    console.error(e.code === 'EADDRINUSE' ? `port ${port} is in use: try --port ${port + 1}` : e.message);
    process.exit(1);
  });
  server.listen(port, values.host, () => {
    const { port: actual } = server.address();
    const host = values.host.includes(':') ? `[${values.host}]` : values.host;
    console.log(`edgeinfer demo: http://${host}:${actual}/  (package: ${packageDir}; Ctrl-C stops)`);
  });
}

main();
