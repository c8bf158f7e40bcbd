/** Where the incept-gpu package lives, from the running module (src/cli/ in a checkout under
 * vitest, dist/ once bundled): the nearest folder above with its package.json. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'incept-gpu') return (cached = dir);
      } catch {
        // an unreadable package.json above is not ours; keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`incept-gpu: could not find the package folder above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** The ImageNet label list that sits beside a checkout (../shared/data/imagenet-sample/). */
export function defaultLabelsPath(): string {
  return join(packageRoot(), '..', 'shared', 'data', 'imagenet-sample', 'imagenet-simple-labels.json');
}
