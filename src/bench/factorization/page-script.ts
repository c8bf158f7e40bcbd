/**
 * The factorization report page's script, which draws the charts from the result's JSON block:
 * time per conv (one chart per batch size, min–max whiskers), predicted vs measured ratio with
 * each row's target, and achieved GFLOP/s against the matmul peak. It is browser code carried
 * as a string (nothing here runs in Node), so it is kept apart from the TypeScript that renders the page.
 */
import { CHART_PAGE_PRELUDE } from '../../io/html-report.js';

/**
 * The page script (plain ES2019, run after the inlined Chart.js). Kept free of backticks and
 * `${` so it can live in this template literal as is.
 */
export const PAGE_SCRIPT =
  "(function () {\n  'use strict';\n" +
  CHART_PAGE_PRELUDE +
  String.raw`
  var COLORS = { full: '#4e79a7', fact: '#f28e2b', fused: '#59a14f', predicted: '#a0a0a0', target: '#8e44ad', ref: '#c0392b' };
  function finite(v) { return typeof v === 'number' && isFinite(v); }
  function num(v) { return finite(v) ? v : null; }
  function fmt(v, unit) {
    if (!finite(v)) return '—';
    var a = Math.abs(v);
    var s = a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
    return unit ? s + ' ' + unit : s;
  }
  function ratio(a, b) { return finite(a) && finite(b) && b > 0 ? a / b : null; }

  // Whiskers from dataset.errorBars[i] = [min, max] (null: none) over each bar.
  var errorBarsPlugin = {
    id: 'errorBars',
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      var y = chart.scales.y;
      ctx.save();
      ctx.strokeStyle = '#222';
      ctx.lineWidth = 1.25;
      chart.data.datasets.forEach(function (ds, i) {
        if (!ds.errorBars || !chart.isDatasetVisible(i)) return;
        chart.getDatasetMeta(i).data.forEach(function (bar, j) {
          var eb = ds.errorBars[j];
          if (!eb || !finite(eb[0]) || !finite(eb[1])) return;
          var x = bar.x;
          var half = Math.max(2, Math.min(6, (bar.width || 8) / 4));
          var top = y.getPixelForValue(eb[1]);
          var bottom = y.getPixelForValue(eb[0]);
          ctx.beginPath();
          ctx.moveTo(x, top); ctx.lineTo(x, bottom);
          ctx.moveTo(x - half, top); ctx.lineTo(x + half, top);
          ctx.moveTo(x - half, bottom); ctx.lineTo(x + half, bottom);
          ctx.stroke();
        });
      });
      ctx.restore();
    },
  };

  // A dashed horizontal line at options.plugins.refLine.value, with a label.
  var refLinePlugin = {
    id: 'refLine',
    afterDatasetsDraw: function (chart, args, opts) {
      if (!opts || !finite(opts.value)) return;
      var area = chart.chartArea;
      var yPix = chart.scales.y.getPixelForValue(opts.value);
      if (yPix < area.top - 0.5 || yPix > area.bottom + 0.5) return;
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = opts.color || COLORS.ref;
      ctx.fillStyle = opts.color || COLORS.ref;
      ctx.lineWidth = 1.5;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(area.left, yPix);
      ctx.lineTo(area.right, yPix);
      ctx.stroke();
      if (opts.label) {
        ctx.setLineDash([]);
        ctx.font = '12px system-ui, sans-serif';
        ctx.textAlign = 'right';
        ctx.textBaseline = 'bottom';
        ctx.fillText(opts.label, area.right - 4, yPix - 3);
      }
      ctx.restore();
    },
  };

  try {
    if (typeof Chart === 'undefined') throw new Error('Chart.js did not load');
    var data = JSON.parse(document.getElementById('factorization-data').textContent);
    var rows = data.rows || [];
    var anyFused = rows.some(function (r) { return !!r.fused; });
    var batches = [];
    rows.forEach(function (r) { if (batches.indexOf(r.batch) < 0) batches.push(r.batch); });
    var countPlugin = chartCounter(batches.length + 2);

    function barDataset(label, color, values, extra) {
      var ds = { label: label, data: values, backgroundColor: color, borderColor: color, borderWidth: 0 };
      for (var k in extra) ds[k] = extra[k];
      return ds;
    }
    function make(id, config) {
      var canvas = document.getElementById(id);
      if (!canvas) throw new Error('no canvas #' + id);
      config.plugins = (config.plugins || []).concat([countPlugin]);
      return new Chart(canvas, config);
    }
    function rowLabel(r) { return r.name + ' · b' + r.batch; }
    function sideLines(side, unit) {
      if (!side) return [];
      return [
        'min–max: ' + fmt(side.msMin) + '–' + fmt(side.msMax) + ' ms (' + side.runs + ' runs)',
        'variant: ' + side.variant,
        unit === 'ms' ? fmt(side.gflops, 'GFLOP/s') : fmt(side.ms, 'ms'),
      ];
    }

    // (a) time per conv, one chart per batch size.
    batches.forEach(function (b, bi) {
      var rs = rows.filter(function (r) { return r.batch === b; });
      var sides = [
        { key: 'full', label: 'full', color: COLORS.full },
        { key: 'factorized', label: 'factorized', color: COLORS.fact },
      ];
      if (anyFused) sides.push({ key: 'fused', label: 'factorized, BN+ReLU fused', color: COLORS.fused });
      var top = 0;
      var datasets = sides.map(function (s) {
        return barDataset(s.label, s.color, rs.map(function (r) { var v = r[s.key]; return v ? num(v.ms) : null; }), {
          errorBars: rs.map(function (r) {
            var v = r[s.key];
            if (!v) return null;
            if (finite(v.msMax)) top = Math.max(top, v.msMax);
            if (finite(v.ms)) top = Math.max(top, v.ms);
            return [v.msMin, v.msMax];
          }),
          sideKey: s.key,
        });
      });
      make('chart-time-' + bi, {
        type: 'bar',
        data: { labels: rs.map(function (r) { return r.name; }), datasets: datasets },
        options: {
          scales: {
            y: { beginAtZero: true, suggestedMax: top > 0 ? top * 1.05 : undefined, title: { display: true, text: 'ms per run (median; whiskers: min–max)' } },
          },
          plugins: {
            title: { display: true, text: 'Batch ' + b },
            tooltip: {
              callbacks: {
                title: function (items) { var r = rs[items[0].dataIndex]; return r.name + ' (batch ' + r.batch + ', ' + r.shape + ')'; },
                label: function (item) { return item.dataset.label + ': ' + fmt(item.raw, 'ms'); },
                afterLabel: function (item) { return sideLines(rs[item.dataIndex][item.dataset.sideKey], 'ms'); },
              },
            },
          },
        },
        plugins: [errorBarsPlugin],
      });
    });

    // (b) predicted vs measured ratio, factorized / full (below the line at 1: a saving), with
    // each row's target, if any, as a horizontal tick across the row.
    var ratioSets = [
      barDataset('predicted (MACs factorized / full)', COLORS.predicted, rows.map(function (r) { return num(r.predictedRatio); })),
      barDataset('measured (ms factorized / full)', COLORS.fact, rows.map(function (r) { return num(r.measuredRatio); })),
    ];
    if (anyFused) {
      ratioSets.push(barDataset('meas. fused (ms fused / full)', COLORS.fused, rows.map(function (r) {
        return r.fused ? ratio(r.fused.ms, r.full.ms) : null;
      })));
    }
    if (rows.some(function (r) { return finite(r.targetRatio); })) {
      ratioSets.push({
        type: 'line',
        label: 'target (measured should be at most)',
        data: rows.map(function (r) { return num(r.targetRatio); }),
        showLine: false,
        pointStyle: 'line',
        pointRadius: 16,
        pointHoverRadius: 18,
        pointBorderWidth: 3,
        pointHoverBorderWidth: 4,
        borderColor: COLORS.target,
        backgroundColor: COLORS.target,
        order: -1,
      });
    }
    make('chart-ratio', {
      type: 'bar',
      data: { labels: rows.map(rowLabel), datasets: ratioSets },
      options: {
        scales: { y: { beginAtZero: true, suggestedMax: 1.2, title: { display: true, text: 'factorized / full (< 1: factorized wins)' } } },
        plugins: {
          refLine: { value: 1, label: '1× (no change; below: saving)', color: COLORS.ref },
          tooltip: { callbacks: { label: function (item) { return item.dataset.label + ': ' + (finite(item.raw) ? item.raw.toFixed(2) + '×' : '—'); } } },
        },
      },
      plugins: [refLinePlugin],
    });

    // (c) achieved GFLOP/s against the adapter's matmul peak.
    var peak = finite(data.peakGflops) && data.peakGflops > 0 ? data.peakGflops : null;
    var gSets = [
      barDataset('full', COLORS.full, rows.map(function (r) { return num(r.full.gflops); })),
      barDataset('factorized', COLORS.fact, rows.map(function (r) { return num(r.factorized.gflops); })),
    ];
    if (anyFused) gSets.push(barDataset('factorized, BN+ReLU fused', COLORS.fused, rows.map(function (r) { return r.fused ? num(r.fused.gflops) : null; })));
    var gTop = peak || 0;
    gSets.forEach(function (ds) { ds.data.forEach(function (v) { if (finite(v)) gTop = Math.max(gTop, v); }); });
    make('chart-gflops', {
      type: 'bar',
      data: { labels: rows.map(rowLabel), datasets: gSets },
      options: {
        scales: { y: { beginAtZero: true, suggestedMax: gTop > 0 ? gTop * 1.1 : undefined, title: { display: true, text: 'GFLOP/s (2 FLOPs per MAC)' } } },
        plugins: {
          refLine: { value: peak, label: peak ? 'matmul peak ' + fmt(peak, 'GFLOP/s') : '', color: COLORS.ref },
          tooltip: { callbacks: { label: function (item) { return item.dataset.label + ': ' + fmt(item.raw, 'GFLOP/s'); } } },
        },
      },
      plugins: [refLinePlugin],
    });
  } catch (e) {
    fail(e);
  }
})();
`;
