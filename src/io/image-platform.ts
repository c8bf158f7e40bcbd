/** The browser's own image decoder (createImageBitmap + OffscreenCanvas), for decodeImageAsync in image.ts. */

export const platformCanDecode = (): boolean => typeof createImageBitmap === 'function' && typeof OffscreenCanvas === 'function';

/** The browser's decoding of a JPEG as RGB bytes, or undefined when it fails or disagrees
 * with the frame header about the size. */
export async function decodeWithPlatform(bytes: Uint8Array, width: number, height: number): Promise<Uint8Array | undefined> {
  let bitmap: ImageBitmap | undefined;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/jpeg' }), {
      colorSpaceConversion: 'none',
      premultiplyAlpha: 'none',
    });
    if (bitmap.width !== width || bitmap.height !== height) return undefined;
    const context = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
    if (!context) return undefined;
    context.drawImage(bitmap, 0, 0);
    const rgba = context.getImageData(0, 0, width, height).data;
    const data = new Uint8Array(width * height * 3);
    for (let i = 0, j = 0; j < rgba.length; i += 3, j += 4) {
      data[i] = rgba[j]!;
      data[i + 1] = rgba[j + 1]!;
      data[i + 2] = rgba[j + 2]!;
    }
    return data;
  } catch {
    return undefined;
  } finally {
    bitmap?.close();
  }
}
