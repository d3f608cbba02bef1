// The benchmark's report: tables (markdown, printed and written), and an HTML page with charts
// drawn as inline SVG — it opens without a network.
import { writeFileSync } from 'node:fs';

export interface Table {
  title: string;
  header: string[];
  rows: string[][];
  note?: string;
}

interface Series {
  name: string;
  points: Array<[number, number]>;
}

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea'];

export function markdown(table: Table): string {
  return [
    `### ${table.title}`,
    '',
    `| ${table.header.join(' | ')} |`,
    `| ${table.header.map(() => '---').join(' | ')} |`,
    ...table.rows.map((cells) => `| ${cells.join(' | ')} |`),
    ...(table.note ? ['', table.note] : []),
  ].join('\n');
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A line chart of several series over a shared x axis. */
export function lineChart(title: string, series: Series[], xLabel: string, yLabel: string): string {
  const width = 640;
  const height = 260;
  const pad = { left: 64, right: 16, top: 28, bottom: 36 };
  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(1, ...all.map(([x]) => x));
  const yMax = Math.max(1, ...all.map(([, y]) => y)) * 1.05;
  const x = (value: number) => pad.left + (value / xMax) * (width - pad.left - pad.right);
  const y = (value: number) => height - pad.bottom - (value / yMax) * (height - pad.top - pad.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax);
  const xTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * xMax);
  const lines = series.map(
    (s, i) =>
      `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5" points="${s.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ')}"/>`,
  );
  return svg(title, width, height, [
    ...ticks.map((t) => `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/><text x="${pad.left - 6}" y="${y(t) + 4}" text-anchor="end">${compact(t)}</text>`),
    ...xTicks.map((t) => `<line x1="${x(t)}" x2="${x(t)}" y1="${height - pad.bottom}" y2="${height - pad.bottom + 4}" stroke="#999"/><text x="${x(t)}" y="${height - pad.bottom + 15}" text-anchor="middle">${compact(t)}</text>`),
    `<text x="${(pad.left + width - pad.right) / 2}" y="${height - 4}" text-anchor="middle">${escape(xLabel)}</text>`,
    `<text x="12" y="${pad.top - 10}">${escape(yLabel)}</text>`,
    ...lines,
    legend(series.map((s) => s.name), width - pad.right),
  ]);
}

/** A histogram on a log scale (latencies), one outline per series. */
export function logHistogram(title: string, series: Array<{ name: string; values: number[] }>, unit: string): string {
  const width = 640;
  const height = 260;
  const pad = { left: 48, right: 16, top: 28, bottom: 36 };
  const all = series.flatMap((s) => s.values).filter((v) => v > 0);
  const low = Math.floor(Math.log10(Math.max(0.1, Math.min(...all))));
  const high = Math.ceil(Math.log10(Math.max(...all, 1)));
  const bins = (high - low) * 8 || 8;
  const binOf = (value: number) => Math.min(bins - 1, Math.max(0, Math.floor(((Math.log10(value) - low) / (high - low || 1)) * bins)));
  const counts = series.map((s) => {
    const histogram = new Array<number>(bins).fill(0);
    for (const value of s.values) if (value > 0) histogram[binOf(value)]!++;
    return histogram.map((count) => count / Math.max(1, s.values.length));
  });
  const yMax = Math.max(0.01, ...counts.flat()) * 1.1;
  const x = (bin: number) => pad.left + (bin / bins) * (width - pad.left - pad.right);
  const y = (value: number) => height - pad.bottom - (value / yMax) * (height - pad.top - pad.bottom);
  const outlines = counts.map(
    (histogram, i) =>
      `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5" points="${histogram.flatMap((value, bin) => [`${x(bin).toFixed(1)},${y(value).toFixed(1)}`, `${x(bin + 1).toFixed(1)},${y(value).toFixed(1)}`]).join(' ')}"/>`,
  );
  const decades = Array.from({ length: high - low + 1 }, (_, i) => low + i);
  const shares = [0, 0.5, 1].map((f) => f * yMax);
  return svg(title, width, height, [
    ...decades.map((d) => `<line x1="${x(((d - low) / (high - low || 1)) * bins)}" x2="${x(((d - low) / (high - low || 1)) * bins)}" y1="${pad.top}" y2="${height - pad.bottom}" stroke="#eee"/><text x="${x(((d - low) / (high - low || 1)) * bins)}" y="${height - pad.bottom + 14}" text-anchor="middle">${duration(10 ** d, unit)}</text>`),
    ...shares.map((s) => `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(s)}" y2="${y(s)}" stroke="#f3f3f3"/><text x="${pad.left - 6}" y="${y(s) + 4}" text-anchor="end">${(s * 100).toFixed(0)}%</text>`),
    `<text x="12" y="${pad.top - 10}">share of samples</text>`,
    ...outlines,
    legend(series.map((s) => s.name), width - pad.right),
  ]);
}

function svg(title: string, width: number, height: number, body: string[]): string {
  return `<figure><figcaption>${escape(title)}</figcaption><svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11">${body.join('')}</svg></figure>`;
}

function legend(names: string[], right: number): string {
  return names
    .map((name, i) => `<rect x="${right - 170}" y="${8 + i * 14}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${right - 155}" y="${17 + i * 14}">${escape(name)}</text>`)
    .join('');
}

/** A duration in its unit, shown in the largest unit that keeps it ≥ 1: 1,000 µs is "1 ms". */
function duration(value: number, unit: string): string {
  if (unit === 'µs' && value >= 1_000_000) return `${compact(value / 1_000_000)} s`;
  if (unit === 'µs' && value >= 1_000) return `${compact(value / 1_000)} ms`;
  return `${compact(value)} ${unit}`;
}

function compact(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(value >= 1e4 ? 0 : 1)}k`;
  return value >= 10 ? value.toFixed(0) : value.toFixed(1);
}

/** What the run was made on and with: shown at the top of the page. */
export interface RunInfo {
  machine: string;
  node: string;
  commit: string;
  options: string;
}

export function writeReport(dir: string, stamp: string, data: object, tables: Table[], charts: string[], info?: RunInfo): string[] {
  const header = info ? `run ${stamp} · ${info.machine} · node ${info.node} · commit ${info.commit}\n\noptions: ${info.options}\n\n` : '';
  const md = `# actorhost benchmark\n\n${header}${tables.map(markdown).join('\n\n')}\n`;
  const htmlTables = tables
    .map((table) => {
      const head = `<tr>${table.header.map((h) => `<th>${escape(h)}</th>`).join('')}</tr>`;
      // A target the run missed stands out.
      const body = table.rows.map((row) => `<tr${row.includes('NO') ? ' class="miss"' : ''}>${row.map((cell) => `<td${cell === 'NO' ? ' class="no"' : ''}>${escape(cell)}</td>`).join('')}</tr>`).join('');
      return `<h2>${escape(table.title)}</h2><table>${head}${body}</table>${table.note ? `<p>${escape(table.note)}</p>` : ''}`;
    })
    .join('');
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>actorhost benchmark</title><style>
body{font:13px/1.4 system-ui,sans-serif;margin:24px;color:#1d232a}table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #dde1e6;padding:3px 8px;text-align:left}
figure{display:inline-block;margin:8px}figcaption{font-weight:600}tr.miss td{background:#fff4f4}td.no{color:#b00020;font-weight:700}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dt{color:#5b6470}</style></head><body><h1>actorhost benchmark</h1>
<dl><dt>run</dt><dd>${escape(stamp)}</dd>${info ? `<dt>machine</dt><dd>${escape(info.machine)}</dd><dt>node</dt><dd>${escape(info.node)}</dd><dt>commit</dt><dd>${escape(info.commit)}</dd><dt>options</dt><dd>${escape(info.options)}</dd>` : ''}</dl>
${charts.join('')}${htmlTables}</body></html>`;
  const json = JSON.stringify(data, null, 2);
  const files = [`${dir}${stamp.replaceAll(':', '-')}.json`, `${dir}latest.json`, `${dir}latest.md`, `${dir}latest.html`];
  writeFileSync(files[0]!, json);
  writeFileSync(files[1]!, json);
  writeFileSync(files[2]!, md);
  writeFileSync(files[3]!, html);
  return files;
}
