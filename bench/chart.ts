// A grouped bar chart as a standalone SVG file: one group per benchmark
// configuration, one bar per responder (median replies per second).

export interface ChartGroup {
  label: string;
  /** Bar height per series name. */
  values: Record<string, number>;
}

const COLORS = ['#1f77b4', '#aec7e8', '#ff7f0e', '#ffbb78', '#2ca02c', '#98df8a', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#c49c94'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function formatAxis(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(0)}k`;
  return value.toFixed(0);
}

/** Render `groups` as an SVG document with a title, a y axis, bars and a legend. */
export function renderBarChart(title: string, yLabel: string, series: string[], groups: ChartGroup[]): string {
  const barWidth = 14;
  const groupGap = 18;
  const groupWidth = series.length * barWidth + groupGap;
  const left = 70;
  const top = 50;
  const plotHeight = 300;
  const width = Math.max(480, left + groups.length * groupWidth + 30);
  const height = top + plotHeight + 110;
  const max = Math.max(1, ...groups.flatMap((g) => series.map((s) => g.values[s] ?? 0)));
  const niceMax = (() => {
    const magnitude = 10 ** Math.floor(Math.log10(max));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= max) return step * magnitude;
    return 10 * magnitude;
  })();
  const y = (value: number): number => top + plotHeight - (value / niceMax) * plotHeight;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const value = (niceMax * i) / 5;
    parts.push(`<line x1="${left}" x2="${width - 20}" y1="${y(value)}" y2="${y(value)}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${y(value) + 4}" text-anchor="end">${formatAxis(value)}</text>`);
  }
  parts.push(`<text transform="translate(16 ${top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`);
  groups.forEach((group, g) => {
    const x0 = left + 10 + g * groupWidth;
    series.forEach((name, s) => {
      const value = group.values[name] ?? 0;
      const x = x0 + s * barWidth;
      parts.push(`<rect x="${x}" y="${y(value)}" width="${barWidth - 2}" height="${top + plotHeight - y(value)}" fill="${COLORS[s % COLORS.length]}"><title>${escapeXml(`${name} ${group.label}: ${Math.round(value)}/s`)}</title></rect>`);
    });
    const cx = x0 + (series.length * barWidth) / 2;
    parts.push(`<text transform="translate(${cx} ${top + plotHeight + 12}) rotate(40)" text-anchor="start">${escapeXml(group.label)}</text>`);
  });
  series.forEach((name, s) => {
    const lx = left + (s % 3) * 180;
    const ly = height - 30 + Math.floor(s / 3) * 16;
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${COLORS[s % COLORS.length]}"/>`);
    parts.push(`<text x="${lx + 14}" y="${ly}">${escapeXml(name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
