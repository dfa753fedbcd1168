// Small helpers: building DOM without innerHTML (so no text from a run is
// ever read as markup), and formatting times, durations and JSON.

const SVG = "http://www.w3.org/2000/svg";

// h("a.link#top", {href: "/", onclick: f}, "text", child, ...)
export function h(spec, attrs, ...children) {
  const [tag, ...rest] = spec.split(/(?=[.#])/);
  const el = document.createElement(tag || "div");
  for (const r of rest) {
    if (r[0] === ".") el.classList.add(r.slice(1));
    else el.id = r.slice(1);
  }
  apply(el, attrs);
  append(el, children);
  return el;
}

// The same for SVG elements.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

function apply(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.setAttribute("class", v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// Replaces the children of `el` (arrays flattened, empty values left out).
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// A status as a coloured pill.
export function pill(status) {
  return h("span.pill.st-" + status, null, status.replace("_", " "));
}

const pad = (n) => String(n).padStart(2, "0");

// 2026-12-06 14:03:07 (local time).
export function when(seconds) {
  if (seconds == null) return "—";
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// "12 s ago", "3 min ago", "2 h ago", then the date.
export function ago(seconds) {
  if (seconds == null) return "—";
  const d = Date.now() / 1000 - seconds;
  if (d < 5) return "just now";
  if (d < 60) return `${Math.floor(d)} s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return when(seconds).slice(0, 10);
}

// 850 ms, 12.4 s, 3 min 07 s, 2 h 05 min.
export function duration(ms) {
  if (ms == null || !isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${pad(Math.floor(s % 60))} s`;
  return `${Math.floor(m / 60)} h ${pad(m % 60)} min`;
}

// A run's duration: to its end, or to now while it goes on.
export function runDuration(run) {
  const end = run.ended_at ?? Date.now() / 1000;
  return (end - run.started_at) * 1000;
}

// 10,002 rather than 10002.
export function count(n) {
  return Number(n).toLocaleString("en-US");
}

export function shortId(id) {
  return id.slice(0, 8) + "…" + id.slice(-4);
}

// JSON, indented, with keys, strings and numbers in their own colour.
export function json(value) {
  const pre = h("pre.json");
  const text = JSON.stringify(value, null, 2) ?? "null";
  const re = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  let at = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > at) pre.append(text.slice(at, m.index));
    if (m[1] && m[2]) {
      pre.append(h("span.k", null, m[1]), m[2]);
    } else if (m[1]) {
      pre.append(h("span.s", null, m[1]));
    } else if (m[3]) {
      pre.append(h("span.b", null, m[3]));
    } else {
      pre.append(h("span.n", null, m[4]));
    }
    at = m.index + m[0].length;
  }
  pre.append(text.slice(at));
  return pre;
}

// Copies text, and says so on the button for a moment.
export function copyButton(text, label = "Copy") {
  const b = h("button.ghost.small", { type: "button", title: "Copy to the clipboard" }, label);
  b.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = "Copied";
    } catch {
      b.textContent = "Select and copy";
    }
    setTimeout(() => (b.textContent = label), 1200);
  });
  return b;
}

// Runs `f` at most once per `ms`, the last call winning.
export function throttle(f, ms) {
  let timer = null;
  let last = 0;
  return (...args) => {
    const wait = Math.max(0, last + ms - Date.now());
    clearTimeout(timer);
    timer = setTimeout(() => {
      last = Date.now();
      f(...args);
    }, wait);
  };
}
