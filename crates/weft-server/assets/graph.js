// The task graph, as the server laid it out (the graph `weft graph`
// prints), drawn in SVG: each task coloured by its state, pan by dragging,
// zoom with the wheel, click a task to select it.

import { h, s, clear } from "weft/util.js";

// Graphs with more tasks than this are not drawn (the Tasks tab lists them).
const MAX_NODES = 2500;

// A path through the points, with vertical tangents (edges run top to
// bottom, so curves leave and enter boxes straight).
function curve(points) {
  if (points.length === 2 && points[0][0] === points[1][0]) {
    return `M${points[0][0]},${points[0][1]} L${points[1][0]},${points[1][1]}`;
  }
  let d = `M${points[0][0]},${points[0][1]}`;
  for (let i = 1; i < points.length; i++) {
    const [x0, y0] = points[i - 1];
    const [x1, y1] = points[i];
    const my = (y0 + y1) / 2;
    d += ` C${x0},${my} ${x1},${my} ${x1},${y1}`;
  }
  return d;
}

function selfLoop(points) {
  const [a, b, c, d] = points;
  return `M${a[0]},${a[1]} C${b[0] + 10},${b[1]} ${c[0] + 10},${c[1]} ${d[0]},${d[1]}`;
}

function subtitle(n) {
  return [n.action ?? "(no action)", ...n.marks].join(" · ");
}

// Fits the text in `width` pixels, with an ellipsis.
function fit(text, width, charWidth) {
  const max = Math.max(3, Math.floor(width / charWidth));
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

export function drawGraph(root, graph, { onSelect }) {
  clear(root);
  if (graph.nodes.length > MAX_NODES) {
    root.append(
      h(
        "div.empty",
        null,
        `This workflow has ${(graph.nodes.length - 1).toLocaleString("en-US")} tasks: too many to draw here. The Tasks tab lists them and finds any by name.`,
      ),
    );
    return { update() {}, select() {} };
  }
  const view = { x: 0, y: 0, k: 1 };
  const svg = s("svg", { class: "graph", role: "img", "aria-label": "task graph of " + graph.workflow });
  const defs = s(
    "defs",
    null,
    s(
      "marker",
      { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }),
    ),
  );
  const layer = s("g");
  svg.append(defs, layer);
  const edgeLayer = s("g", { class: "edges" });
  const nodeLayer = s("g", { class: "nodes" });
  layer.append(edgeLayer, nodeLayer);

  for (const e of graph.edges) {
    const d = e.self_loop ? selfLoop(e.points) : curve(e.points);
    const path = s("path", {
      d,
      class: "edge" + (e.back ? " back" : "") + (e.when ? " cond" : ""),
      "marker-end": "url(#arrow)",
    });
    if (e.when) path.append(s("title", null, e.when));
    edgeLayer.append(path);
  }

  const byName = new Map();
  for (const n of graph.nodes) {
    const g = s("g", {
      class: "node " + n.kind + (n.kind === "task" ? " st-none" : ""),
      transform: `translate(${n.x},${n.y})`,
      dataset: { task: n.kind === "task" ? n.name : "" },
    });
    if (n.kind === "task") {
      g.append(
        s("rect", { class: "box", width: n.width, height: n.height, rx: 8 }),
        s("rect", { class: "stripe", width: 4, height: n.height - 2, x: 1, y: 1, rx: 2 }),
        s("text", { class: "name", x: 14, y: 19 }, fit(n.name, n.width - 24, 7.8)),
        s("text", { class: "sub", x: 14, y: 35 }, fit(subtitle(n), n.width - 22, 6.4)),
        s("g", { class: "badge", transform: `translate(${n.width},0)` }),
        s("title", null, `${n.name}\n${subtitle(n)}`),
      );
      g.addEventListener("click", (ev) => {
        ev.stopPropagation();
        onSelect(n.name);
      });
      byName.set(n.name, g);
    } else {
      g.append(
        s("rect", { class: "box", width: n.width, height: n.height, rx: n.height / 2 }),
        s("text", { class: "label", x: n.width / 2, y: n.height / 2 + 4, "text-anchor": "middle" }, n.name),
      );
    }
    nodeLayer.append(g);
  }

  const fitButton = h("button.ghost.small", { type: "button", title: "Fit the graph in view" }, "Fit");
  const zoomIn = h("button.ghost.small", { type: "button", title: "Zoom in" }, "+");
  const zoomOut = h("button.ghost.small", { type: "button", title: "Zoom out" }, "−");
  const frame = h("div.graph-frame", null, svg, h("div.graph-tools", null, zoomOut, zoomIn, fitButton));
  // Tall enough for most graphs at full size; a big one is fitted.
  frame.style.minHeight = Math.round(Math.min(620, Math.max(280, graph.height + 24))) + "px";
  root.append(frame);

  function apply() {
    layer.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
  }
  function fitView() {
    const w = frame.clientWidth || 800;
    const hgt = frame.clientHeight || 420;
    const k = Math.min(1, (w - 16) / graph.width, (hgt - 16) / graph.height);
    view.k = Math.max(0.05, k);
    view.x = (w - graph.width * view.k) / 2;
    view.y = Math.max(8, (hgt - graph.height * view.k) / 2);
    apply();
  }
  function zoom(factor, cx, cy) {
    const k = Math.min(4, Math.max(0.05, view.k * factor));
    view.x = cx - ((cx - view.x) * k) / view.k;
    view.y = cy - ((cy - view.y) * k) / view.k;
    view.k = k;
    apply();
  }
  fitButton.addEventListener("click", fitView);
  zoomIn.addEventListener("click", () => zoom(1.25, frame.clientWidth / 2, frame.clientHeight / 2));
  zoomOut.addEventListener("click", () => zoom(0.8, frame.clientWidth / 2, frame.clientHeight / 2));
  svg.addEventListener(
    "wheel",
    (e) => {
      e.preventDefault();
      const r = svg.getBoundingClientRect();
      zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    },
    { passive: false },
  );
  let drag = null;
  svg.addEventListener("pointerdown", (e) => {
    if (e.target.closest(".node.task")) return;
    drag = { x: e.clientX - view.x, y: e.clientY - view.y };
    svg.setPointerCapture(e.pointerId);
    svg.classList.add("dragging");
  });
  svg.addEventListener("pointermove", (e) => {
    if (!drag) return;
    view.x = e.clientX - drag.x;
    view.y = e.clientY - drag.y;
    apply();
  });
  svg.addEventListener("pointerup", () => {
    drag = null;
    svg.classList.remove("dragging");
  });
  requestAnimationFrame(fitView);

  let selected = null;
  return {
    // Colours each task by its group's state.
    update(groups) {
      for (const [name, g] of byName) {
        const group = groups.get(name);
        const status = group ? group.status : "none";
        g.setAttribute("class", "node task st-" + status + (name === selected ? " selected" : ""));
        g.dataset.status = status;
        // How many instances (or items) there were: a badge on the corner.
        const badge = g.querySelector(".badge");
        const text = group && group.instances > 1 ? "×" + group.instances : group && group.items ? group.items + " items" : "";
        if (badge.dataset.text !== text) {
          badge.dataset.text = text;
          clear(badge);
          if (text) {
            const w = text.length * 6 + 10;
            badge.append(s("rect", { x: -w + 6, y: -8, width: w, height: 16, rx: 8 }), s("text", { x: -w / 2 + 6, y: 4, "text-anchor": "middle" }, text));
          }
        }
      }
    },
    select(name) {
      if (selected && byName.has(selected)) byName.get(selected).classList.remove("selected");
      selected = name;
      if (name && byName.has(name)) byName.get(name).classList.add("selected");
    },
  };
}
