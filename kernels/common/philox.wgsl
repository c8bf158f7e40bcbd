// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a
// counter-based generator, so any element's random words are a pure function of (counter, key)
// and nothing is stored between dispatches. Included by the kernels that draw random numbers
// (dropout.wgsl, augment.wgsl). src/data/random.ts is the same generator on the CPU.

const PHILOX_M0: u32 = 0xd2511f53u;
const PHILOX_M1: u32 = 0xcd9e8d57u;
const PHILOX_W0: u32 = 0x9e3779b9u;
const PHILOX_W1: u32 = 0xbb67ae85u;

// High word of the 64-bit product a·b. WGSL has no 32×32→64 multiply, so from 16-bit halves:
// a·b = hh·2^32 + (hl + lh)·2^16 + ll. `cross` gathers the terms at 2^16 that can carry into the
// high word: ll >> 16 ≤ 0xffff, hl & 0xffff ≤ 0xffff, lh ≤ 0xfffe0001, sum ≤ 0xffffffff (no overflow).
fn mulhi(a: u32, b: u32) -> u32 {
  let aLo = a & 0xffffu;
  let aHi = a >> 16u;
  let bLo = b & 0xffffu;
  let bHi = b >> 16u;
  let ll = aLo * bLo;
  let hl = aHi * bLo;
  let lh = aLo * bHi;
  let hh = aHi * bHi;
  let cross = (ll >> 16u) + (hl & 0xffffu) + lh;
  return hh + (hl >> 16u) + (cross >> 16u);
}

fn philox_round(c: vec4u, k: vec2u) -> vec4u {
  let hi0 = mulhi(PHILOX_M0, c.x);
  let lo0 = PHILOX_M0 * c.x;
  let hi1 = mulhi(PHILOX_M1, c.z);
  let lo1 = PHILOX_M1 * c.z;
  return vec4u(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
}

fn philox4x32_10(counter: vec4u, key: vec2u) -> vec4u {
  var c = counter;
  var k = key;
  c = philox_round(c, k);
  for (var r = 1u; r < 10u; r++) {
    k += vec2u(PHILOX_W0, PHILOX_W1);
    c = philox_round(c, k);
  }
  return c;
}
