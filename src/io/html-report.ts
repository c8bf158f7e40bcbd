/**
 * What every HTML report of the benchmarks shares: escaping, embedding the result as JSON, and
 * Chart.js inlined from node_modules so a report opens with no network.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** JSON for a <script type="application/json"> block: no '<' (so no '</script>' or '<!--'). */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export interface ChartJsSource {
  /** The UMD build, ready to inline (source-map comment removed). */
  source: string;
  version: string;
  path: string;
}

let chartJsCache: ChartJsSource | undefined;

/** Reads Chart.js's minified UMD build from node_modules (resolved from this module). */
export function loadChartJs(): ChartJsSource {
  if (chartJsCache) return chartJsCache;
  // Not named `require`: the CLI bundle's banner already declares one at top level.
  const nodeRequire = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = nodeRequire.resolve('chart.js');
  } catch (e) {
    throw new Error(
      `The HTML report needs the 'chart.js' package, which could not be found (${e instanceof Error ? e.message.split('\n')[0] : String(e)}). ` +
        'It is a dependency of incept-gpu: run `npm install` in the project directory.',
    );
  }
  // The package's exports map does not list the UMD build; it sits next to the CommonJS entry.
  const path = join(dirname(entry), 'chart.umd.min.js');
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(
      `The HTML report needs Chart.js's UMD build at ${path}, which could not be read (${e instanceof Error ? e.message : String(e)}). ` +
        'Reinstall it with `npm install chart.js@4`.',
    );
  }
  const version = /Chart\.js v(\d+\.\d+\.\d+\S*)/.exec(source.slice(0, 500))?.[1] ?? 'unknown';
  source = source
    .replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n')
    // Never true of the published build; a guard so inlined code cannot end the element early.
    .replace(/<\/(script)/gi, '<\\/$1')
    .replace(/<!--/g, '<\\!--');
  chartJsCache = { source, version, path };
  return chartJsCache;
}

