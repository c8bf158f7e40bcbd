/**
 * The factorization benchmark driven from code: one of Inception-v3's 7×7 convolutions against
 * its 1×7 + 7×1 replacement, at batch 1, with a few timed runs and no tuning, so it takes
 * seconds even on a CPU adapter. `incept bench factorization` runs every pair with tuning.
 * Prints the table and writes the HTML report (charts; Chart.js inlined) to factorization.html.
 *
 *   node factorization.js [pair filter]      (default: 'Mixed_6b')
 */
import { writeFileSync } from 'node:fs';
import { createEngine } from 'incept-gpu';
import { FACTORIZATION_PAIRS, formatFactorizationTable, renderFactorizationHtml, runFactorization } from 'incept-gpu/bench';

const filter = process.argv[2] ?? 'Mixed_6b';
console.log(`pairs: ${FACTORIZATION_PAIRS.map((p) => p.name).join('; ')}`);

const engine = await createEngine();
try {
  const result = await runFactorization(engine, {
    filter,
    batches: [1],
    warmup: 1,
    repeats: 3,
    tuningBudgetMs: 0, // the per-adapter default kernels; tuning would measure every variant first
    samples: 64,
    onProgress: (message) => console.log(`… ${message}`),
  });
  console.log(formatFactorizationTable(result));
  writeFileSync('factorization.html', renderFactorizationHtml(result));
  console.log('wrote factorization.html');
  for (const row of result.rows) {
    console.log(
      `${row.name}: factorized / full = ${row.measuredRatio.toFixed(2)} measured, ${row.predictedRatio.toFixed(2)} predicted from multiply-adds; max relative error ${Math.max(row.full.maxRelErr, row.factorized.maxRelErr).toExponential(1)}`,
    );
  }
} finally {
  engine.destroy();
}
