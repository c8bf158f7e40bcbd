/** Kernels that draw random numbers are compiled with kernels/philox.wgsl prepended (WGSL has no includes). */
import philoxWgsl from '../../kernels/philox.wgsl';

export function withPhilox(code: string): string {
  return `${philoxWgsl}\n${code}`;
}
