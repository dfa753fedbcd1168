// The run's timeline (a Gantt chart): a row per task, a bar per instance
// from its first attempt's start to its end (to now while it runs).

import { h, s, clear, duration } from "weft/util.js";

const ROW = 26;
const LABEL = 180;
const AXIS = 28;
// Rows drawn at once; more are behind a button.
const ROWS = 300;

function ticks(span) {
  const steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];
  return steps.find((st) => span / st <= 8) ?? 86400;
}

export function drawTimeline(root, run, groups) {
  clear(root);
  const rows = [...groups.values()].filter((g) => g.started_at != null);
  if (!rows.length) {
    root.append(h("div.empty", null, "No task has started yet."));
    return;
  }
  rows.sort((a, b) => a.started_at - b.started_at);
  const start = run.started_at;
  const now = Date.now() / 1000;
  const end = Math.max(
    run.ended_at ?? now,
    ...rows.map((g) => g.ended_at ?? (g.status === "running" || g.status === "pending" ? now : g.started_at)),
  );
  const span = Math.max(end - start, 0.001);
  const width = Math.max(root.clientWidth || 900, 600);
  const plot = width - LABEL - 16;
  const x = (t) => LABEL + ((t - start) / span) * plot;
  let shown = Math.min(rows.length, ROWS);

  function draw() {
    clear(root);
    const height = AXIS + shown * ROW + 8;
    const svg = s("svg", { class: "timeline", width, height, role: "img", "aria-label": "timeline" });
    const step = ticks(span);
    for (let t = 0; t <= span + 1e-9; t += step) {
      const px = x(start + t);
      svg.append(
        s("line", { class: "tick", x1: px, x2: px, y1: AXIS - 6, y2: height }),
        s("text", { class: "tick-label", x: px, y: AXIS - 10, "text-anchor": "middle" }, duration(t * 1000)),
      );
    }
    rows.slice(0, shown).forEach((g, i) => {
      const y = AXIS + i * ROW;
      const row = s("g", { class: "row", dataset: { task: g.name } });
      if (i % 2 === 0) row.append(s("rect", { class: "band", x: 0, y, width, height: ROW }));
      row.append(s("text", { class: "row-label", x: 8, y: y + ROW / 2 + 4 }, g.name.length > 24 ? g.name.slice(0, 23) + "…" : g.name));
      for (const [instance, st, en, status] of g.spans) {
        const x0 = x(st);
        const x1 = Math.max(x0 + 2, x(en ?? now));
        const bar = s("rect", { class: "bar st-" + status, x: x0, y: y + 5, width: x1 - x0, height: ROW - 10, rx: 3 });
        bar.append(s("title", null, `${g.name} #${instance}: ${status}, ${duration(((en ?? now) - st) * 1000)}`));
        row.append(bar);
      }
      if (g.spans_total > g.spans.length) {
        row.append(s("text", { class: "more", x: width - 8, y: y + ROW / 2 + 4, "text-anchor": "end" }, `+${g.spans_total - g.spans.length} more`));
      }
      svg.append(row);
    });
    root.append(svg);
    if (shown < rows.length) {
      root.append(
        h("button.ghost.small", { type: "button", onclick: () => ((shown = Math.min(rows.length, shown + ROWS)), draw()) }, `Show ${Math.min(ROWS, rows.length - shown)} more tasks`),
      );
    }
  }
  draw();
}
