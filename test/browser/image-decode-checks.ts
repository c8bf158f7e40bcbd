/**
 * In Chromium: decodeImageAsync decodes JPEGs with the browser's own decoder (createImageBitmap
 * and OffscreenCanvas) and everything else with the JavaScript decoders. The fixture is a
 * 40 × 24 4:2:0 JPEG with sharp colour edges, made by PIL, with PIL's decoding of it (libjpeg-
 * turbo's fancy upsampling): the platform must be within one level of it everywhere, and closer
 * to it on average than jpeg-js (which replicates chroma). page.ts runs these; browser.test.ts
 * asserts each name.
 */
import { decodeImage, decodeImageAsync, ImageDecodeError, type DecodedImage } from '../../src/io/image.js';
import type { PageResult } from './page.js';

export const IMAGE_DECODE_CHECKS = [
  "image decoding: decodeImageAsync decodes a 4:2:0 JPEG with the browser's decoder, within one level of PIL's pixels",
  'image decoding: PNGs, EXIF-rotated and truncated JPEGs go to the JavaScript decoders',
] as const;

/** PIL 9.4 (libjpeg-turbo 2.1): Image.save(quality=90, subsampling=2) of a 40 × 24 picture. */
const FIXTURE_JPEG =
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBDAQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wAARCAAYACgDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwD50ttE6fLWpBpcceN2BXTf2R5NrK+MbUJz+FYtennfEFbBSjCik2+//AsfZ+GfDWH4po18TiqsoxptRSjZNt63baenlb56a37PR1kRWUAqe4rlPEfjk6TqT2mnwRS+QSksk6nBcHBAAI6c89/1Po/gWzN4bxeSE2ED65/wrkfHPwS1ybXZrzRYP7Qt7t2mdGkRGicnJB3EAgk8EfQ9Mn7PgzMMrzCtz5vJRTi7cztG97O79Nrv73Y4+K4YzIsZVy7BTbcGtUves0pL80nb8Eb/AMPtZg8Y2DssflXlvtWeMA7QTnDKfQ4PHUY+hJXVfB/4V3Pg3Sppb992oX2xpYVIKQhc7Vz3PzHJ6dh0ySvmc+xmCp5lWhl0r0U9PuV7d1e9n2tq9z67Js0xLwNP62/3ltf0+drX8zXtdE6fLVd/hdYXk7S7p4Q5zsiZQo+mQaKK+TxVqytUV7H8l8NcR5rks5Ty6vKm5Kzs9+11tp07a92ddoXhGDSbOO3t49qLySeWY9yT3NfUifETw+/3b8n/ALYSf/E0UV+ccS8N4TiNUVipSiqXNblaXxWve8X/ACq2x+mZZneMVSpVqPnlUd5OV229db38zL8YeJdK13w1eWdrcmWaXZtXynGcOpPJHoKKKK58kyihw9h5YXCSk4uTl7zTd2kuiWmiPtI42rWSk7L0P//Z';
/** PIL's Image.open(...).convert('RGB') of it: 24 × 40 × 3 bytes. */
const FIXTURE_PIL_RGB =
  'Kjx6Kj57KEF6K0F7ND57Nj96N0B7N0J6O0J5Qz96Uzh7WTh9Vzp8Vjx9Wzx/XTyBYDuJZDuKajqGbzyBbz95cUB4eD1/eT5+eUR6dz5xhz9/jTuFlT+WkDSHnjl9oDt1nzl4pj57sD14sz51rT5zsT16tjWFxTyWLEB/LEGAKkSBLkSANz9+Oz9+PEJ+PUN9P0R8RkJ9UkB+Vz5/VUF+VkJ/XUCAYECBZEGFZkGGa0KIb0KDdEJ/d0F9e0CCe0CAfUR7j1OJhj59iDyGiD+ZikGbk0KOlUOFnUiLnkKDrD1/sDx5sUR9rj55wUWOtTSEK0SHLEWHKkiIMUaHPkGGRT+FQ0KERESCRkaCSEeATEd/T0h+Tkp9Ukp9W0Z+Ykd8aEh6aUl7Z0qAbUmGeEOHfkGGf0KFgESCg0N/fjpzmk+KikaRdEesb0u1eFCpfVGggE2akkuXrkmVrDqCtUuLtUuJsD99vUuHKkqDK0uEKk2FMkuEQEWFRkSFQ0eEQ0mDR0qBSEuASk5+TE5+Tk99VE5+XU1+Y0t7Z0p2aU12aE95bU1/ekaGgEWHf0eEg0mDhUl/jVCLgEKNekupNSadKCajMCaZMR+LOyKIg1a1n02ip0WOqEWFsE2Etk+GsEl+J1R1KFV2KlV4MVN5PE17QEx8O1J+PFN/Q1J9SFF8TVF+UFF9VFF+WFB/X0+AYk6BaE2Aa1B9bVJ1c1F0ekx9fEyAfU9+f1J9glJ6glaTb1C4LiGlHCi6HDHIEx+zJSq8Ix+xOCKhh1Sxn1eZrFWIrVB9s1KFsE+EJll2KFl3L1h4NFZ7OFR7OVV6OFl6Pll3S1Z2WlBybEpvdUVte0RsfURtf0Vtf0Zvfkl3fE13d1Ryd1ZzeVJ+eVJ/elZ8eVmAeFiJaVGfNiuuHSPBCiLEEzDUDifMFSjNHinQKCW6Nh+UjV2xpVmIslh7sVJ+vV2NJVyFK1qEOVWFPVWFN1qCNV5+Ol54RltwWFVmeEldpTNUvSlNwShHwShEvStCtDBHpzdQl0NdgVNveFt6eFmFdlmFdl19cV6Lb2OvJyOSJCfAGiXPFifNFCvPESzRDyrPEynMFiTFJirLLhiWoF+Vtl1zuVp8uVd+KV6ILl2JOFqKOluIM1+CN2F6RV5yW1dmeElZnDlLySVA3xo14Bku3hoo2B0m0CIrwSY2rzVKlkpkhVh3fFyFd16GdGF9bmOOY1+zJiqlGyPEHCfXGibQFSbMESrPDSrOES3PESnRECPXMCm3nWGftl52vF1/v12DM16BM2GCK2SBLmiAMmZ7QmN2XV5weUhdqTFMyCQ/1h813xws4Rwm3x4j2SEh1SIm0h8yxSU9rTNKm0hiiFyAe2WJdGaAc2iQb2eyJiOUGiO8HizXGiTRGSXPFCXLESbNDSfSFDDcDyfRJiSroWivuGGLu16LvV2LN2B+MmZ+KGt+KHB+MW14R2Vwa1pqjT5UwyZF3Ro43xwt3x0m3x4j3R8f2iEf2SAl2xwr0h8ywCc5rD1QjFp1e2eDeWd/eGqNdGimLSuOGim6Cx3HGyfTHSnVFCTPGS/aECzYCiXMGirILiShnGWpt2aPumWOwGmTM2d/MmyALW6ALnSAMHN7R2lydFhnlTlQxCVD3Rs24Rss4Rwm3B8j2SEj3B8j3R4l2h8m1SApzCEqtDVAkltufmt/gWh+gmqKd2maLS+EGzK+DivRFifNESHMDincCyrcCyrQFSrDJyKwPB+LpG2kuHSNrGd8t3KFLW6AL3KCLnOCL3iBL3l8SW50elhonTdNxSU/3Rsz4xoq4B0l2CEl2CEl3x0o4Bwo3SAn2SAl0x4juTA4lWFtf3OBhG+Ag3CEf3SSdHazFSmZEy69FSrFFCrODCncCyvYEizHICquNiCNmG64pXKRq3N+tn2GsXV9KHiDKnqFKXmELHuALnx8S3Nzf1tnoDlMyiQ83xsx4Bwo3B8l1SIl1iEo4Bss4Rss3h4r2iEp1h8ktzA2lmhyenqCeHl9enl+gH6DfHiRdXa2JC6QFS2zEC3HDyjLFSnGFySwLCaSl3WxqXmRrH6ArX15r3yBr3qCKH2ELH+HKn2DLn+CMYB7T3h0gF9mnzpIyiQ43xws3R4l2SEj1SIl1iEo4Bst4Rot3hsp3R8p2R4lti4ylm1zd3+CdH59dn96en12g4GGiYCfe3e0IzKPFSmZLDmrHiSSNDKVh3a8pXyarnx9o3ltr4V5rnx7s36EL36DMoGGMoCENYGBOoN8U3tzfWNimD1Cxycz3R0o3CAh2SEf1SMj1iEm3R0s4Bst3xsn4h4o3R4muCsxmnByfIKCfICDfYGAf4l+gYaCgneIlIWihX6fhH+fiX6elIWkjn6bnYOcp3yPuImRqoR7qYJztoR9woiGLoKCNIaENoKCO4OAPYZ9ToB1am1kgkZFty421SEs2CEl2SEj2CEl2SAm3B0s3xws4Bop3SItzCcupTQ2k3hxe4aAfoOGhId8h4tZj41SmYpfl4Ram4pWpJRZmoZLo41Uo45Xp41asI1jq4ZZr5BXtpJgtYVxuoN+KIyALouBN4iCPIeCPYiBQoh9UIV1d3Rrnj1Iwic50B8x2iAu2yAr2hwo2hsq3R0s5SA0xiAuqkBAnm5ihIl1co1+d4qIiY1o7Nxj998/8eBI8OFK8eFE8eFD8eFE8eFE8uNI9ORJ7ts/9uJF8d0+8thhvpRsuYmHJpF9K5B+No6COo2DN4+BOJF/QZB7XoVziWdloUZNsS06vyUxxycxySgwyCkuxiszth4rsj9Gn3FkiY12dZN5bZN+dpGMi5Jf999B/+IP++UV9+cW+uYW+ecX+OgX9+kX8eIT9eUT9OUO+usS+OgW+OBCvZVhuYyJK5V+LpZ/MpWBMZeCK5uDMJuBQZV9UJB4ZJV4b3lhhVNIlUA9nD05njs2mzo0kDs2k1BKlHJmhJN2b5t4aZp9bZqGdpWPi5Rf9d8+/+EN/OQQ+uUS/eIV+uQV9+gR9ukP/ukU/+kS/+gI/ecG/eYO/N4+vpRawZCJKpt9K5x+LJ2BLZ6CK6CDM56CQ5mASJh7QqF5T5dvdYNpj3pnnHhooXppn4Bsmoh0iYdygJR5bJx2YZ51ap+DcJuIeJaKkZtf8eJB/+QP++YP++YR/+MW/uMW+OcR9+gP/OQQ/OMM/eUF+eEB/OQO/eE/wplXxpmEIqN6I6R9JaaALKSBNp6DPpyCRpyDRZ6AP6V9SKR7X596cZh5fJB1eo5zcJV0bZl2cJh2cZ15aqF3bKN8d6GJepmHf5iClqNd6uRE9ugW9ukP+OgP/+MW/+IY++UW+OYW++YZ+uYV/usS/OkR/esf+eNCwaBPvptxJKh5Jah8KKmAMKeBP5+DRJ6ERKGEQ6SDQKZ/RKZ9TKR8VqF6ZJt7ZJ18WqV+Wad9YKF5a6V9bKmAb6WBe6GIgaGJgKKBiaRf2eRh4ec/4+c46OY58uE8898+8OE+7uI+7+FC7uA/7+I77uA37d8+69pYxKxiwqd6LKp7L6p8Mql/OaeAQ6SDRaSEP6mFQKqES6uGT6mFUamDVqiCYKaEYamEWa6FWq+GZqyIaqqIbKqFb6eEd6SFfqqJeq6Hd6l0ia9ijbBWj7BVlq5WoqpXp6hYp6pZp6pZrqphsathsapatq5buK5ZvbFps6V4taWEMat8M6t9OKuAPaqBRqWDRqeEPq6GQK6HSKaCUqmGVq2KWK6JXKmFWqqFVq6GWLCIZK6NZ6iIb6yLd6+MeaiGeKqFdrOJdLOEfbGBgLB+g7GCirCBl6yDn6uDoK2Coq2FpqaKqqmLrqqHtK+Fsap8tayBua6Ouq6U';

const fromBase64 = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

function levels(got: DecodedImage, want: Uint8Array): { mean: number; max: number } {
  if (got.width !== 40 || got.height !== 24 || got.data.length !== want.length)
    throw new Error(`decoded to ${got.width}×${got.height} (${got.data.length} bytes), expected 40×24`);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got.data[i]! - want[i]!);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / want.length, max };
}

async function platformJpeg(): Promise<void> {
  const jpeg = fromBase64(FIXTURE_JPEG);
  const pil = fromBase64(FIXTURE_PIL_RGB);
  const platform = await decodeImageAsync(jpeg, 'fixture.jpg');
  if (platform.decoder !== 'platform') throw new Error(`decoded by ${platform.decoder}, not the platform`);
  const fromBlob = await decodeImageAsync(new Blob([jpeg as Uint8Array<ArrayBuffer>]), 'fixture.jpg');
  if (fromBlob.decoder !== 'platform' || fromBlob.data.some((v, i) => v !== platform.data[i])) throw new Error('a Blob decoded differently from its bytes');
  const js = decodeImage(jpeg, 'fixture.jpg');
  const p = levels(platform, pil);
  const j = levels(js, pil);
  console.info(`JPEG decoding vs PIL, levels: platform mean ${p.mean.toFixed(3)} max ${p.max}; ${js.decoder} mean ${j.mean.toFixed(3)} max ${j.max}`);
  if (p.max > 1) throw new Error(`the platform's pixels are up to ${p.max} levels from PIL's (mean ${p.mean.toFixed(3)})`);
  if (!(p.mean <= j.mean)) throw new Error(`the platform (mean ${p.mean.toFixed(3)}) is further from PIL than ${js.decoder} (mean ${j.mean.toFixed(3)})`);
}

/** An APP1 segment whose EXIF says orientation 6 (rotate 90° to display). */
function exifOrientation6(): Uint8Array {
  const tiff = [0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0];
  const body = [...'Exif\0\0'].map((c) => c.charCodeAt(0)).concat(tiff);
  return Uint8Array.from([0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 255, ...body]);
}

async function javascriptFallbacks(): Promise<void> {
  const jpeg = fromBase64(FIXTURE_JPEG);
  const rotated = new Uint8Array([...jpeg.subarray(0, 2), ...exifOrientation6(), ...jpeg.subarray(2)]);
  const r = await decodeImageAsync(rotated, 'rotated.jpg');
  if (r.decoder !== 'jpeg-js' || r.width !== 40 || r.height !== 24)
    throw new Error(`EXIF-rotated JPEG: ${r.decoder} ${r.width}×${r.height}, expected jpeg-js 40×24 (orientation not applied)`);
  let error: unknown;
  try {
    await decodeImageAsync(jpeg.subarray(0, Math.floor(jpeg.length * 0.7)), 'cut.jpg');
  } catch (e) {
    error = e;
  }
  if (!(error instanceof ImageDecodeError) || !/^cut\.jpg: truncated or corrupt JPEG/.test(error.message))
    throw new Error(`a truncated JPEG gave ${error instanceof Error ? error.message : String(error)}`);
  const canvas = new OffscreenCanvas(5, 3);
  const context = canvas.getContext('2d')!;
  context.fillStyle = 'rgb(10, 200, 30)';
  context.fillRect(0, 0, 5, 3);
  const png = await decodeImageAsync(await canvas.convertToBlob({ type: 'image/png' }), 'made.png');
  if (png.decoder !== 'fast-png' || png.width !== 5 || png.data[0] !== 10 || png.data[1] !== 200 || png.data[2] !== 30)
    throw new Error(`PNG: ${png.decoder} ${png.width}×${png.height} first pixel ${Array.from(png.data.subarray(0, 3)).join(', ')}`);
}

export async function runImageDecodeChecks(): Promise<PageResult[]> {
  const checks: [(typeof IMAGE_DECODE_CHECKS)[number], () => Promise<void>][] = [
    [IMAGE_DECODE_CHECKS[0], platformJpeg],
    [IMAGE_DECODE_CHECKS[1], javascriptFallbacks],
  ];
  const results: PageResult[] = [];
  for (const [name, check] of checks) {
    try {
      await check();
      results.push({ name, ok: true });
    } catch (e) {
      results.push({ name, ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return results;
}
