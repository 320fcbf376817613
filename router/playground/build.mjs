// Bundles the playground into dist/: index.html plus content-hashed assets (and gzip copies the
// router can serve as-is) under dist/assets/, which the router embeds at build time and serves
// under /playground/.
import { build } from 'esbuild';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
const assets = path.join(dist, 'assets');
const publicPath = '/playground/';

await rm(dist, { recursive: true, force: true });

const result = await build({
  absWorkingDir: here,
  entryPoints: ['src/playground.jsx'],
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome111', 'edge111', 'firefox114', 'safari16.4'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  outdir: assets,
  publicPath,
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs);
const [entryFile, entry] = outputs.find(([, output]) => output.entryPoint === 'src/playground.jsx');
if (!entry.cssBundle) throw new Error('the bundle produced no stylesheet');
const url = (file) => publicPath + path.basename(file);

for (const [file] of outputs) {
  if (!/\.(js|css)$/.test(file)) continue;
  const absolute = path.join(here, file);
  const gzipped = gzipSync(await readFile(absolute), { level: constants.Z_BEST_COMPRESSION });
  await writeFile(`${absolute}.gz`, gzipped);
}

// Written last: its presence is what marks dist/ as complete.
const template = await readFile(path.join(here, 'src/index.html'), 'utf8');
const html = template.replace('%SCRIPT%', url(entryFile)).replace('%STYLESHEET%', url(entry.cssBundle));
await writeFile(path.join(dist, 'index.html'), html);

for (const [file, output] of outputs) {
  console.log(`${path.relative(here, path.join(here, file))}  ${(output.bytes / 1024).toFixed(0)} KiB`);
}
