/**
 * A small SVG line chart writer: enough for the benchmark's two panels (apply time and
 * connection rate against rule count), without a plotting dependency.
 */

export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  points: [number, number][];
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Logarithmic y axis (the x axis, rule counts, is always logarithmic). */
  yLog?: boolean;
  series: Series[];
}

const WIDTH = 460;
const HEIGHT = 390;
const MARGIN = { left: 70, right: 34, top: 40, bottom: 140 };

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n: number): string => (Math.abs(n) >= 1000 ? n.toLocaleString('en-US') : String(Math.round(n * 100) / 100));

function niceStep(span: number, count: number): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? power * 10;
}

/** Decades covering [min, max] for a log axis. */
function decades(min: number, max: number): number[] {
  const out: number[] = [];
  for (let p = Math.floor(Math.log10(min)); p <= Math.ceil(Math.log10(max)); p++) out.push(10 ** p);
  return out;
}

function renderPanel(panel: Panel, offsetX: number): string {
  const points = panel.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && x > 0);
  if (points.length === 0) return '';
  const xs = decades(Math.min(...points.map((p) => p[0])), Math.max(...points.map((p) => p[0])));
  const xMin = Math.log10(xs[0]!);
  const xMax = Math.log10(xs[xs.length - 1]!);
  const yValues = points.map((p) => p[1]);
  let yTicks: number[];
  let yScale: (y: number) => number;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  if (panel.yLog) {
    yTicks = decades(Math.max(Math.min(...yValues), 1e-3), Math.max(...yValues));
    const lo = Math.log10(yTicks[0]!);
    const hi = Math.log10(yTicks[yTicks.length - 1]!);
    yScale = (y) => MARGIN.top + plotH - ((Math.log10(y) - lo) / (hi - lo || 1)) * plotH;
  } else {
    const step = niceStep(Math.max(...yValues), 5);
    const top = Math.ceil(Math.max(...yValues) / step) * step || step;
    yTicks = [];
    for (let y = 0; y <= top + step / 2; y += step) yTicks.push(y);
    yScale = (y) => MARGIN.top + plotH - (y / top) * plotH;
  }
  const xScale = (x: number) => offsetX + MARGIN.left + ((Math.log10(x) - xMin) / (xMax - xMin || 1)) * plotW;
  const left = offsetX + MARGIN.left;
  const out: string[] = [
    `<text x="${left + plotW / 2}" y="${MARGIN.top - 16}" text-anchor="middle" font-size="15" font-weight="bold">${escape(panel.title)}</text>`,
    `<rect x="${left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`,
  ];
  for (const x of xs) {
    out.push(
      `<line x1="${xScale(x)}" y1="${MARGIN.top}" x2="${xScale(x)}" y2="${MARGIN.top + plotH}" stroke="#ddd"/>`,
      `<text x="${xScale(x)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle" font-size="12">${fmt(x)}</text>`,
    );
  }
  for (const y of yTicks) {
    out.push(
      `<line x1="${left}" y1="${yScale(y)}" x2="${left + plotW}" y2="${yScale(y)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${yScale(y) + 4}" text-anchor="end" font-size="12">${fmt(y)}</text>`,
    );
  }
  out.push(
    `<text x="${left + plotW / 2}" y="${MARGIN.top + plotH + 36}" text-anchor="middle" font-size="13">${escape(panel.xLabel)}</text>`,
    `<text transform="translate(${offsetX + 18} ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="13">${escape(panel.yLabel)}</text>`,
  );
  panel.series.forEach((series, index) => {
    const valid = series.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!panel.yLog || y > 0));
    const path = valid.map(([x, y]) => `${xScale(x).toFixed(1)},${yScale(y).toFixed(1)}`).join(' ');
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline points="${path}" fill="none" stroke="${series.color}" stroke-width="2"${dash}/>`);
    if (!series.dashed) {
      for (const [x, y] of valid) out.push(`<circle cx="${xScale(x).toFixed(1)}" cy="${yScale(y).toFixed(1)}" r="3.5" fill="${series.color}"/>`);
    }
    const ly = MARGIN.top + plotH + 56 + index * 16;
    out.push(
      `<line x1="${left}" y1="${ly - 4}" x2="${left + 24}" y2="${ly - 4}" stroke="${series.color}" stroke-width="2"${dash}/>`,
      `<text x="${left + 30}" y="${ly}" font-size="12">${escape(series.name)}</text>`,
    );
  });
  return out.join('\n');
}

/** Panels side by side in one SVG document; `note` goes along the bottom. */
export function renderChart(panels: Panel[], note: string): string {
  const width = WIDTH * panels.length;
  const height = HEIGHT + 24;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...panels.map((panel, i) => renderPanel(panel, i * WIDTH)),
    `<text x="10" y="${height - 8}" font-size="11" fill="#555">${escape(note)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
