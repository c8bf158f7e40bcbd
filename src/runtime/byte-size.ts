/** Byte arithmetic shared by the engine's parts: WebGPU copies and bindings work in 4-byte units. */

/** Rounds up to whole 4-byte words: copies, clears and writes must be multiples of 4 bytes. */
export function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** Bytes in the unit a person reads: 134217728 → '128 MiB'. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}
