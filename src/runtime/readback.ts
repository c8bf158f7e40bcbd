/**
 * Reading tensors back to the host. A readback copies into a mappable buffer, which needs the
 * whole batch submitted first, so each read flushes; the mappable buffers are pooled by size
 * class because reads repeat at the same sizes (a training loop's losses, a service's outputs).
 */
import { align4 } from './byte-size.js';
import { sizeClass, type PooledBuffer } from './pool.js';
import { typedArrayFor, type Tensor } from './tensor.js';

type HostArray = Float32Array | Int32Array | Uint32Array;

export class Readback {
  private pool = new Map<number, GPUBuffer[]>();

  /**
   * @param encoderFor the open batch's encoder, noting the buffer as used by it
   * @param flush the engine's flush: submits the batch and reports its errors
   */
  constructor(
    private readonly device: GPUDevice,
    private readonly encoderFor: (pb: PooledBuffer) => GPUCommandEncoder,
    private readonly flush: () => Promise<void>,
  ) {}

  /** Copies a tensor to a mappable buffer, submits, maps, copies out. */
  async read(t: Tensor): Promise<HostArray> {
    void t.pooled; // throws, naming the tensor, if it was disposed or this engine destroyed
    if (t.slice) return this.readChannelView(t);
    const out = typedArrayFor(t.dtype, t.size);
    if (t.size === 0) return out;
    const bytes = align4(t.byteLength);
    const size = sizeClass(bytes);
    const staging =
      this.pool.get(size)?.pop() ?? this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'incept readback' });
    this.encoderFor(t.pooled).copyBufferToBuffer(t.buffer, 0, staging, 0, bytes);
    try {
      await this.flush();
      await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    } catch (e) {
      staging.destroy();
      throw e;
    }
    new Uint8Array(out.buffer).set(new Uint8Array(staging.getMappedRange(0, bytes), 0, t.byteLength));
    staging.unmap();
    const list = this.pool.get(size) ?? [];
    list.push(staging);
    this.pool.set(size, list);
    return out;
  }

  /** A channel view read back: the rows it spans, then its channels picked out of each. */
  private async readChannelView(t: Tensor): Promise<HostArray> {
    const { offset, stride } = t.slice!;
    const whole = t.spanTensor();
    let all: HostArray;
    try {
      all = await this.read(whole);
    } finally {
      whole.dispose();
    }
    const c = t.channels;
    const out = typedArrayFor(t.dtype, t.size);
    for (let r = 0, rows = t.size / c; r < rows; r++) out.set(all.subarray(r * stride + offset, r * stride + offset + c), r * c);
    return out;
  }

  destroy(): void {
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.pool.clear();
  }
}
