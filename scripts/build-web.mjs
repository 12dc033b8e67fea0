// Builds the browser phone (src/web/phone) into dist/web/phone: typechecks it
// against the DOM with its own tsconfig, bundles it and JsSIP with esbuild
// (the page loads nothing from a CDN), and copies the HTML and CSS.
// Run by `npm run build` after tsc.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src/web/phone');
const out = path.join(root, 'dist/web/phone');

try {
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(src, 'tsconfig.json')], { stdio: 'inherit' });
} catch {
  console.error('build-web: the phone page does not typecheck (see above)');
  process.exit(1);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: [path.join(src, 'main.ts')],
  outfile: path.join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  // Chromium and Firefox of the last few years; nothing older is tested.
  target: ['chrome109', 'firefox115', 'safari16'],
  minify: true,
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'linked',
  // JsSIP's debug module reads this; the page has no process.
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
  metafile: true,
});
for (const f of ['index.html', 'style.css']) copyFileSync(path.join(src, f), path.join(out, f));
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`build-web: dist/web/phone (${Math.round(bytes / 1024)} KiB)`);
