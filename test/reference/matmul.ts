/** Float64 reference matrix product: C[b][i][j] = Σ_k A[b][i][k] · B[b][k][j], row-major. */
export function matmulRef(a: ArrayLike<number>, b: ArrayLike<number>, batch: number, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let q = 0; q < k; q++) sum += a[p * m * k + i * k + q]! * b[p * k * n + q * n + j]!;
        c[p * m * n + i * n + j] = sum;
      }
    }
  }
  return c;
}
