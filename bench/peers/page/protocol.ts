/** What browser.ts (Node) and page/main.ts (Chromium) exchange: types only. */

export type PeerName = 'tfjs-webgpu' | 'ort-web-webgpu';
export const PEER_NAMES: readonly PeerName[] = ['tfjs-webgpu', 'ort-web-webgpu'];

/** /config.json */
export interface PageConfig {
  batches: number[];
  repeats: number;
  seed: number;
  ortBuild: 'webgpu' | 'jsep';
  /** Fail unless the page's adapter is lavapipe (llvmpipe). */
  expectLavapipe: boolean;
}

/** One batch size: every round's wall time, ms, per library (round i of each list ran together). */
export interface PageRow {
  batch: number;
  engineMs: number[];
  peers: Record<PeerName, { ms: number[]; maxRelErr: number }>;
}

/** Sent through the exposed function `window.__peerReport`. */
export type PageMessage =
  | { type: 'progress'; message: string }
  | { type: 'error'; library: string; message: string }
  | { type: 'done'; adapter: string; versions: { tfjs: string; ort: string }; rows: PageRow[] };
