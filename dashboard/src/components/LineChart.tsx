// One line chart (lightweight-charts): a series over blocks or time, with markers (our buys
// and sells) and horizontal lines (take-profit, stop-loss, trailing levels). Loaded only by the
// pages that draw one, so the overview paints without it.

import { useEffect, useRef } from "react";
import { createChart, createSeriesMarkers, LineSeries, type SeriesMarker, type Time, type UTCTimestamp } from "lightweight-charts";

export interface ChartPoint {
  x: number;
  y: number;
}

export interface ChartMarker {
  x: number;
  side: "buy" | "sell";
  text: string;
}

export interface ChartLine {
  y: number;
  title: string;
  /** The level's exact figure, shown beside its title. */
  exact?: string;
  colour: string;
}

/** Points with strictly increasing x (the chart requires it): the last point of each x. */
export function increasing(points: ChartPoint[]): ChartPoint[] {
  const out: ChartPoint[] = [];
  for (const p of [...points].sort((a, b) => a.x - b.x)) {
    if (out.length && out[out.length - 1].x === p.x) out[out.length - 1] = p;
    else out.push(p);
  }
  return out;
}

export default function LineChart(props: {
  points: ChartPoint[];
  markers?: ChartMarker[];
  lines?: ChartLine[];
  /** x is a block (slot) number rather than unix seconds. */
  blocks?: boolean;
  label: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const { points, markers = [], lines = [], blocks = false, label } = props;
  useEffect(() => {
    if (!box.current) return;
    const format = (t: Time) => (blocks ? `#${String(t)}` : new Date(Number(t) * 1000).toLocaleString());
    const chart = createChart(box.current, {
      height: 320,
      autoSize: true,
      // Axis ticks are plot coordinates: four significant digits; exact figures are elsewhere.
      localization: { timeFormatter: format, priceFormatter: (p: number) => p.toPrecision(4) },
      timeScale: blocks ? { tickMarkFormatter: (t: Time) => `#${String(t)}` } : { timeVisible: true },
    });
    const series = chart.addSeries(LineSeries, { color: "#1565c0", lineWidth: 2 });
    const data = increasing(points);
    series.setData(data.map((p) => ({ time: p.x as UTCTimestamp, value: p.y })));
    // A marker sits on the nearest charted x at or after its own.
    const xs = data.map((p) => p.x);
    const at = (x: number) => xs.find((v) => v >= x) ?? xs[xs.length - 1];
    const marks: SeriesMarker<Time>[] = markers
      .filter(() => xs.length > 0)
      .map(
        (m): SeriesMarker<Time> => ({
          time: at(m.x) as UTCTimestamp,
          position: m.side === "buy" ? "belowBar" : "aboveBar",
          shape: m.side === "buy" ? "arrowUp" : "arrowDown",
          color: m.side === "buy" ? "#2e7d32" : "#c62828",
          text: m.text,
        }),
      )
      .sort((a, b) => Number(a.time) - Number(b.time));
    createSeriesMarkers(series, marks);
    for (const l of lines) series.createPriceLine({ price: l.y, color: l.colour, title: l.exact ? `${l.title} ${l.exact}` : l.title, lineWidth: 1, lineStyle: 2 });
    chart.timeScale().fitContent();
    return () => chart.remove();
  }, [points, markers, lines, blocks]);
  return (
    <div
      ref={box}
      role="img"
      aria-label={label}
      data-testid="chart"
      data-points={points.length}
      data-markers={markers.length}
      data-lines={lines.map((l) => l.title).join(",")}
      style={{ width: "100%", height: 320 }}
    />
  );
}
