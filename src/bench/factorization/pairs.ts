/**
 * The comparisons of the factorization benchmark: each full convolution of Inception-v3 next
 * to the factorized pair that covers the same receptive field with the same input and output
 * channels ('same' padding throughout, so both sides give the same output grid).
 *
 * The width between the two factorized convs is the harmonic mean of the input and output
 * widths (rounded to a multiple of 4 for the vec4 kernels): with it the pair's multiply-adds
 * are the paper's fraction of the full conv's (18/25, 6/9, 2/n, 8/9), which the paper derives
 * for equal widths. Each row states its convs, so the choice is visible.
 */
import type { Padding } from '../../ops/conv2d-geometry.js';

export interface ConvSpec {
  kh: number;
  kw: number;
  cin: number;
  cout: number;
  padding: Padding;
}

export interface FactorizationPair {
  /** Row name: the Inception-v3 layer the full conv stands for. */
  name: string;
  /** The kind of replacement. */
  group: string;
  /** The paper's cost of the replacement relative to the full conv. */
  paperRatio: number;
  h: number;
  w: number;
  full: ConvSpec;
  factorized: [ConvSpec, ConvSpec];
}

/** Harmonic mean of a and b, rounded to a multiple of 4. */
export function middleWidth(a: number, b: number): number {
  return Math.max(4, Math.round((2 * a * b) / (a + b) / 4) * 4);
}

function fiveByFive(name: string, cin: number, cout: number): FactorizationPair {
  const mid = middleWidth(cin, cout);
  return {
    name,
    group: '5×5 → 3×3 + 3×3',
    paperRatio: 18 / 25,
    h: 35,
    w: 35,
    full: { kh: 5, kw: 5, cin, cout, padding: 'same' },
    factorized: [
      { kh: 3, kw: 3, cin, cout: mid, padding: 'same' },
      { kh: 3, kw: 3, cin: mid, cout, padding: 'same' },
    ],
  };
}

function asymmetric(name: string, n: number, size: number, cin: number, cout: number): FactorizationPair {
  const mid = middleWidth(cin, cout);
  const p = (n - 1) / 2;
  return {
    name,
    group: `${n}×${n} → 1×${n} + ${n}×1`,
    paperRatio: 2 / n,
    h: size,
    w: size,
    full: { kh: n, kw: n, cin, cout, padding: 'same' },
    factorized: [
      { kh: 1, kw: n, cin, cout: mid, padding: [0, 0, p, p] },
      { kh: n, kw: 1, cin: mid, cout, padding: [p, p, 0, 0] },
    ],
  };
}

/** Two 2×2 convs padded so their 3×3 receptive field is centred like the 3×3 conv's. */
function twoByTwo(name: string, cin: number, cout: number): FactorizationPair {
  const mid = middleWidth(cin, cout);
  return {
    name,
    group: '3×3 → 2×2 + 2×2',
    paperRatio: 8 / 9,
    h: 35,
    w: 35,
    full: { kh: 3, kw: 3, cin, cout, padding: 'same' },
    factorized: [
      { kh: 2, kw: 2, cin, cout: mid, padding: [1, 0, 1, 0] },
      { kh: 2, kw: 2, cin: mid, cout, padding: [0, 1, 0, 1] },
    ],
  };
}

export const FACTORIZATION_PAIRS: FactorizationPair[] = [
  fiveByFive('Mixed_5b 5×5 (48→64)', 48, 64),
  fiveByFive('5×5 288→64 at 35×35', 288, 64),
  asymmetric('Mixed_7b 3×3 (384→384)', 3, 8, 384, 384),
  asymmetric('Mixed_6b 7×7 (c7=128)', 7, 17, 128, 192),
  asymmetric('Mixed_6c 7×7 (c7=160)', 7, 17, 160, 192),
  asymmetric('Mixed_6e 7×7 (c7=192)', 7, 17, 192, 192),
  twoByTwo('Mixed_5b 3×3 (64→96), two 2×2', 64, 96),
];

export function describeConv(c: ConvSpec): string {
  return `${c.kh}×${c.kw} ${c.cin}→${c.cout}`;
}

export function convParams(c: ConvSpec): number {
  return c.kh * c.kw * c.cin * c.cout;
}
