#!/usr/bin/env node
// The `incept` command. Runs the esbuild bundle in dist/, building it first if a checkout has
// not been built yet (npm ci builds it through the `prepare` script).
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/incept.js', import.meta.url);
if (!existsSync(bundle)) {
  const { builds } = await import('../esbuild.config.mjs');
  const esbuild = await import('esbuild');
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
const { main } = await import(bundle.href);
await main(process.argv);
