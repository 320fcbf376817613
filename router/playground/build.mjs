// Bundles the playground into dist/: index.html plus content-hashed assets (and gzip copies the
// router can serve as-is) under dist/assets/, which the router embeds at build time and serves
// under /playground/. dist/ is committed, so building the router needs neither Node nor the
// network; the output depends only on the inputs below (esbuild is deterministic, the gzip
// copies carry no timestamp), which scripts/build-playground --check relies on.
//
//   node build.mjs [--outdir DIR]     (default: dist/ beside this file)
//
// dist/sources.sha256 records the digest of the inputs the bundle was made from, which a router
// test recomputes without Node to catch sources changed without a rebuild: SHA-256 over every
// input file, in byte order of its path relative to this directory ('/'-separated), each as the
// path, a NUL byte, its length in decimal, a NUL byte and its bytes.
import { createHash } from 'node:crypto';
import { build } from 'esbuild';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outdirAt = args.indexOf('--outdir');
if (outdirAt >= 0 && !args[outdirAt + 1]) throw new Error('--outdir needs a directory');
const dist = outdirAt >= 0 ? path.resolve(args[outdirAt + 1]) : path.join(here, 'dist');
const assets = path.join(dist, 'assets');
const publicPath = '/playground/';

/** What the bundle is made from: files and directories (walked), relative to this directory. */
const INPUTS = ['build.mjs', 'package.json', 'package-lock.json', 'src'];

async function inputFiles() {
  const files = [];
  const walk = async (relative) => {
    const entries = await readdir(path.join(here, relative), { withFileTypes: true }).catch(() => null);
    if (!entries) {
      files.push(relative);
      return;
    }
    for (const entry of entries) await walk(`${relative}/${entry.name}`);
  };
  for (const input of INPUTS) await walk(input);
  return files.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

async function sourcesDigest() {
  const hash = createHash('sha256');
  for (const file of await inputFiles()) {
    const bytes = await readFile(path.join(here, file));
    hash.update(file);
    hash.update('\0');
    hash.update(String(bytes.length));
    hash.update('\0');
    hash.update(bytes);
  }
  return hash.digest('hex');
}

// GraphiQL's docs search gets src/docs-search-combobox.jsx for @headlessui/react (see there). The
// build fails when the search no longer imports it, so an upgrade shows whether it is still needed.
const searchModule = /[\\/]@graphiql[\\/]plugin-doc-explorer[\\/]dist[\\/]components[\\/]search\.js$/;
let searchPatched = false;
const docsSearchCombobox = {
  name: 'docs-search-combobox',
  setup(build) {
    build.onResolve({ filter: /^@headlessui\/react$/ }, ({ importer }) => {
      if (!searchModule.test(importer)) return undefined;
      searchPatched = true;
      return { path: path.join(here, 'src/docs-search-combobox.jsx') };
    });
  },
};

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

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
  plugins: [docsSearchCombobox],
});
if (!searchPatched) {
  throw new Error(
    "GraphiQL's docs search no longer imports @headlessui/react: check whether src/docs-search-combobox.jsx is still needed",
  );
}

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

await writeFile(path.join(dist, 'sources.sha256'), `${await sourcesDigest()}\n`);

// Written last: its presence is what marks dist/ as complete.
const template = await readFile(path.join(here, 'src/index.html'), 'utf8');
const html = template.replace('%SCRIPT%', url(entryFile)).replace('%STYLESHEET%', url(entry.cssBundle));
await writeFile(path.join(dist, 'index.html'), html);

for (const [file, output] of outputs) {
  console.log(`${path.relative(dist, path.join(here, file))}  ${(output.bytes / 1024).toFixed(0)} KiB`);
}
