#!/usr/bin/env node
// Builds the optional oneDNN addon (native/build/Release/cds_onednn.node) at install time. Never fails the install:
// without oneDNN, a compiler or node-gyp it prints one line and exits 0, and the toolkit runs on wasm instead.
// Run again after installing oneDNN: `npm rebuild cds-distill` (or `node native/build.mjs` in a checkout).
// CDS_ONEDNN=0 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const note = (msg) => console.log(`cds-distill: ${msg}`);

function nodeGyp() {
  // npm exports its bundled node-gyp to lifecycle scripts; otherwise a local or global install.
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const require = createRequire(import.meta.url);
  for (const id of ['node-gyp/bin/node-gyp.js', 'npm/node_modules/node-gyp/bin/node-gyp.js']) {
    try {
      return require.resolve(id);
    } catch {}
  }
  const global = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  return existsSync(global) ? global : undefined;
}

function main() {
  if (process.env.CDS_ONEDNN === '0') return note('CDS_ONEDNN=0: skipped the optional oneDNN addon build.');
  try {
    createRequire(import.meta.url).resolve('node-addon-api');
  } catch {
    return note('optional oneDNN addon not built (node-addon-api is missing); training uses wasm.');
  }
  const gyp = nodeGyp();
  if (!gyp) return note('optional oneDNN addon not built (node-gyp not found); training uses wasm.');
  const args = [gyp, 'rebuild'];
  // Use the headers of the running node when they are installed next to it (no download).
  const prefix = join(dirname(process.execPath), '..');
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  const r = spawnSync(process.execPath, args, { cwd: here, encoding: 'utf8' });
  if (r.status === 0) return note('built the oneDNN addon: the onednn backend is available.');
  const log = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  const why = /dnnl\.hpp|oneapi\/dnnl|cannot find -ldnnl|ldnnl/.test(log)
    ? 'oneDNN not found: apt-get install libdnnl-dev (macOS: brew install onednn; conda: conda install -c conda-forge onednn)'
    : `the build failed: ${(log.split('\n').find((l) => /error/i.test(l)) ?? `exit ${r.status}`).trim().slice(0, 160)}`;
  note(`optional oneDNN addon not built (${why}); training uses wasm. Then: npm rebuild cds-distill`);
}

main();
