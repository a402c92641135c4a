import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/**
 * Every file the page loads, read once at start and served by the gateway itself: the page works
 * with no internet access. uPlot (the charts, ~50 kB) comes from its npm package.
 */
export function staticAssets(): {
  serve(req: IncomingMessage, res: ServerResponse, name: string, headers: Record<string, string>): void;
} {
  const require = createRequire(import.meta.url);
  const own = (name: string) => fileURLToPath(new URL(`./static/${name}`, import.meta.url));
  const files: Record<string, string> = {
    'dashboard.js': own('dashboard.js'),
    'dashboard.css': own('dashboard.css'),
    'uPlot.iife.min.js': require.resolve('uplot/dist/uPlot.iife.min.js'),
    'uPlot.min.css': require.resolve('uplot/dist/uPlot.min.css'),
  };
  const assets = new Map<string, Asset>();
  for (const [name, path] of Object.entries(files)) {
    const body = readFileSync(path);
    assets.set(name, {
      body,
      type: TYPES[name.slice(name.lastIndexOf('.') + 1)]!,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
    });
  }
  return {
    serve(req, res, name, headers) {
      const asset = assets.get(name);
      if (!asset) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...headers });
        res.end('not found');
        return;
      }
      const common = { etag: asset.etag, 'cache-control': 'no-cache', ...headers };
      if (req.headers['if-none-match'] === asset.etag) {
        res.writeHead(304, common);
        res.end();
        return;
      }
      res.writeHead(200, {
        'content-type': asset.type,
        'content-length': String(asset.body.length),
        ...common,
      });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
    },
  };
}
