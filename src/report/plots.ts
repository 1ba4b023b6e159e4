/**
 * The report's plots as vega-lite specifications, rendered to SVG in Node (no browser, no canvas): test accuracy per
 * epoch (one line per method, a band of ± one standard deviation over the seeds) and the final accuracy per method
 * (bars with error bars). The teacher's accuracy is a dashed rule on both.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import type { CompareReport } from './table.js';

const WIDTH = 560;
const HEIGHT = 320;

function colorScale(n: number): { scheme: string } {
  return { scheme: n > 10 ? 'tableau20' : 'tableau10' };
}

function teacherLayers(report: CompareReport, width: number): object[] {
  if (!report.teacher) return [];
  const y = 100 * report.teacher.top1;
  return [
    // One datum each: without their own data the layers would draw once per row of the chart's data (or not at all).
    { data: { values: [{}] }, mark: { type: 'rule', strokeDash: [6, 4], color: '#555', strokeWidth: 1.5 }, encoding: { y: { datum: y } } },
    {
      data: { values: [{}] },
      mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -3, color: '#555', fontSize: 11 },
      encoding: { x: { value: width - 4 }, y: { datum: y }, text: { value: `teacher ${y.toFixed(2)}%` } },
    },
  ];
}

/** Test top-1 (%) per epoch: a line per method (mean over seeds), a band of ± one sample std. */
export function curvesSpec(report: CompareReport): TopLevelSpec {
  const methods = report.rows.map((r) => r.method);
  const values = report.curves.map((p) => ({
    method: p.method,
    epoch: p.epoch,
    mean: 100 * p.top1.mean,
    lo: 100 * (p.top1.mean - p.top1.std),
    hi: 100 * (p.top1.mean + p.top1.std),
    seeds: p.top1.n,
  }));
  const color = {
    field: 'method',
    type: 'nominal',
    title: 'method',
    sort: methods,
    scale: colorScale(methods.length),
    // The band layer and the line layer share one legend; draw its symbols as solid strokes.
    legend: { symbolType: 'stroke', symbolOpacity: 1, symbolStrokeWidth: 3, symbolSize: 200 },
  };
  const epochs = [...new Set(report.curves.map((p) => p.epoch))].sort((a, b) => a - b);
  // Whole epochs only: every epoch as a tick when there are few, else integer ticks chosen by vega.
  const axis = epochs.length <= 20 ? { values: epochs, format: 'd' } : { tickMinStep: 1, format: 'd' };
  const x = { field: 'epoch', type: 'quantitative', title: 'epoch', axis, scale: { nice: false } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Test top-1 per epoch', subtitle: 'mean over seeds, band: ± one standard deviation' },
    width: WIDTH,
    height: HEIGHT,
    background: 'white',
    layer: [
      {
        data: { values },
        mark: { type: 'area', opacity: 0.18 },
        encoding: {
          x,
          y: { field: 'lo', type: 'quantitative', title: 'test top-1 (%)', scale: { zero: false } },
          y2: { field: 'hi' },
          color,
        },
      },
      {
        data: { values },
        mark: { type: 'line', point: { size: 30 }, strokeWidth: 2 },
        encoding: {
          x,
          y: { field: 'mean', type: 'quantitative' },
          color,
          tooltip: [{ field: 'method' }, { field: 'epoch' }, { field: 'mean', format: '.2f' }, { field: 'seeds' }],
        },
      },
      ...teacherLayers(report, WIDTH),
    ],
  } as TopLevelSpec;
}

/** Last-epoch test top-1 (%) per method: bars at the mean, error bars ± one sample std. */
export function barsSpec(report: CompareReport): TopLevelSpec {
  const methods = report.rows.map((r) => r.method);
  const values = report.rows.map((r) => ({
    method: r.method,
    mean: 100 * r.last.top1.mean,
    lo: 100 * (r.last.top1.mean - r.last.top1.std),
    hi: 100 * (r.last.top1.mean + r.last.top1.std),
    seeds: r.seeds.length,
  }));
  const x = { field: 'method', type: 'nominal', title: 'method', sort: methods, axis: { labelAngle: -30 } };
  const width = Math.max(WIDTH / 2, 48 * methods.length);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Final test top-1', subtitle: 'last epoch, mean over seeds, error bars: ± one standard deviation' },
    width,
    height: HEIGHT,
    background: 'white',
    data: { values },
    layer: [
      {
        mark: { type: 'bar', opacity: 0.85 },
        encoding: {
          x,
          y: { field: 'mean', type: 'quantitative', title: 'test top-1 (%)', scale: { zero: true } },
          color: { field: 'method', type: 'nominal', sort: methods, scale: colorScale(methods.length), legend: null },
          tooltip: [{ field: 'method' }, { field: 'mean', format: '.2f' }, { field: 'seeds' }],
        },
      },
      {
        mark: { type: 'rule', color: 'black', strokeWidth: 1.5 },
        encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
      },
      // Caps at both ends (visible even when the seeds agree and the bar has no spread).
      { mark: { type: 'tick', color: 'black', thickness: 1.5, size: 14 }, encoding: { x, y: { field: 'lo', type: 'quantitative' } } },
      { mark: { type: 'tick', color: 'black', thickness: 1.5, size: 14 }, encoding: { x, y: { field: 'hi', type: 'quantitative' } } },
      ...teacherLayers(report, width),
    ],
  } as TopLevelSpec;
}

/** Render a vega-lite spec to an SVG string (headless: no canvas needed). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
