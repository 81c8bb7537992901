// A table that renders only the rows in view (fixed row height), so that 10,000 rows scroll as
// smoothly as 10. `onNearEnd` asks for the next server page when the view nears the last row.

import { useState, type ReactNode } from "react";

export interface Column<T> {
  title: string;
  width: number;
  cell: (row: T) => ReactNode;
}

const ROW = 30;
const OVERSCAN = 8;

export function VirtualTable<T>(props: {
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string | number;
  height?: number;
  onNearEnd?: () => void;
  label: string;
}) {
  const { rows, columns, rowKey, onNearEnd, label } = props;
  const height = props.height ?? 480;
  const [top, setTop] = useState(0);
  const first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((top + height) / ROW) + OVERSCAN);
  const width = columns.reduce((w, c) => w + c.width, 0);
  return (
    <div role="table" aria-label={label} aria-rowcount={rows.length} style={{ width: "100%", overflowX: "auto" }}>
      <div role="row" style={{ display: "flex", fontWeight: 600, borderBottom: "1px solid #ccc", width }}>
        {columns.map((c) => (
          <div role="columnheader" key={c.title} style={{ width: c.width, padding: "4px 6px", flex: "none", boxSizing: "border-box" }}>
            {c.title}
          </div>
        ))}
      </div>
      <div
        data-testid={`${label}-scroller`}
        style={{ height, overflowY: "auto", overflowX: "hidden", position: "relative", width }}
        onScroll={(e) => {
          const t = e.currentTarget.scrollTop;
          setTop(t);
          if (onNearEnd && t + height >= rows.length * ROW - 4 * ROW) onNearEnd();
        }}
      >
        <div style={{ height: rows.length * ROW, position: "relative" }}>
          {rows.slice(first, last).map((r, i) => (
            <div
              role="row"
              key={rowKey(r)}
              aria-rowindex={first + i + 1}
              style={{ position: "absolute", top: (first + i) * ROW, height: ROW, width, display: "flex", alignItems: "center", borderBottom: "1px solid #eee", boxSizing: "border-box" }}
            >
              {columns.map((c) => (
                <div role="cell" key={c.title} style={{ width: c.width, padding: "0 6px", flex: "none", boxSizing: "border-box", overflow: "hidden", whiteSpace: "nowrap", textOverflow: "ellipsis" }}>
                  {c.cell(r)}
                </div>
              ))}
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}
