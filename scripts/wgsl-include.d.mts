import type { Plugin } from 'esbuild';

/** Expands the include directives of a .wgsl file: the text, and every file it was made from (its own first). */
export function expandWgsl(filePath: string): { code: string; files: string[] };
/** The WGSL of the kernel file at `filePath` with its include directives expanded. */
export function expandWgslIncludes(filePath: string): string;
/** Matches a line that is an include directive (or starts like one). */
export const INCLUDE_DIRECTIVE: RegExp;
/** esbuild plugin: .wgsl files as text, includes expanded. */
export const wgslIncludes: Plugin;
