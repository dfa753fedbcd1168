// The runs: newest first, a page at a time (by cursor, so page 200 costs
// what page 1 does), filtered by status, workflow and time; the page on
// screen is fetched again every two seconds while the tab is visible.

import { api, query } from "weft/api.js";
import { h, clear, fill, pill, when, ago, duration, runDuration, shortId } from "weft/util.js";

const STATUSES = ["queued", "running", "paused", "canceling", "succeeded", "failed", "canceled"];
const SINCE = [
  ["", "any time"],
  ["3600", "last hour"],
  ["86400", "last 24 hours"],
  ["604800", "last 7 days"],
];
const PAGE = 50;
const REFRESH_MS = 2000;

export function runsPage(root, { caps }) {
  const params = new URLSearchParams(location.search);
  const state = {
    status: params.get("status") || "",
    workflow: params.get("workflow") || "",
    since: params.get("since") || "",
    sub: params.get("sub") === "1",
    cursor: params.get("cursor") || "",
    // Cursors of the pages before this one, for "Newer".
    back: [],
  };
  let timer = null;
  let stopped = false;

  const status = h(
    "select#status-filter",
    { "aria-label": "Status" },
    h("option", { value: "" }, "all statuses"),
    STATUSES.map((s) => h("option", { value: s }, s)),
  );
  status.value = state.status;
  const workflow = h("input#workflow-filter", {
    type: "search",
    placeholder: "workflow",
    list: "wf-names",
    value: state.workflow,
    "aria-label": "Workflow",
  });
  const names = h("datalist#wf-names", null, caps.workflows.map((w) => h("option", { value: w })));
  const since = h("select#since-filter", { "aria-label": "Started" }, SINCE.map(([v, t]) => h("option", { value: v }, t)));
  since.value = state.since;
  const sub = h("input#sub-filter", { type: "checkbox" });
  sub.checked = state.sub;
  const body = h("tbody");
  const empty = h("div.empty", { hidden: true });
  const newer = h("button.ghost#newer", { type: "button" }, "← Newer");
  const older = h("button.ghost#older", { type: "button" }, "Older →");
  const where = h("span.muted.small");
  const live = h("span.live", { title: "This page is fetched again every 2 seconds" }, h("i"), "live");

  const refilter = () => {
    state.status = status.value;
    state.workflow = workflow.value.trim();
    state.since = since.value;
    state.sub = sub.checked;
    state.cursor = "";
    state.back = [];
    load();
  };
  status.addEventListener("change", refilter);
  since.addEventListener("change", refilter);
  sub.addEventListener("change", refilter);
  workflow.addEventListener("change", refilter);
  newer.addEventListener("click", () => {
    state.cursor = state.back.pop() ?? "";
    load();
  });
  let next = null;
  older.addEventListener("click", () => {
    if (!next) return;
    state.back.push(state.cursor);
    state.cursor = next;
    load();
  });

  root.append(
    h(
      "section.card",
      null,
      h(
        "div.toolbar",
        null,
        h("h1", null, "Runs"),
        live,
        h("div.spacer"),
        status,
        workflow,
        names,
        since,
        h("label.check", null, sub, "sub-workflows"),
      ),
      h(
        "table.runs",
        null,
        h(
          "thead",
          null,
          h("tr", null, ["Status", "Run", "Workflow", "Started", "Duration", "Ended"].map((c) => h("th", null, c))),
        ),
        body,
      ),
      empty,
      h("div.pager", null, newer, where, older),
    ),
  );

  function url() {
    return (
      "/" +
      query({
        status: state.status,
        workflow: state.workflow,
        since: state.since,
        sub: state.sub ? "1" : "",
        cursor: state.cursor,
      })
    );
  }

  async function load(quiet = false) {
    clearTimeout(timer);
    if (!quiet) history.replaceState(null, "", url());
    const q = {
      status: state.status,
      workflow: state.workflow,
      top_level: state.sub ? "" : "true",
      since: state.since ? Math.floor(Date.now() / 1000) - Number(state.since) : "",
      cursor: state.cursor,
      limit: PAGE,
    };
    try {
      const page = await api.get("/api/v1/runs" + query(q));
      if (stopped) return;
      render(page);
      live.classList.remove("off");
    } catch (e) {
      if (stopped) return;
      live.classList.add("off");
      empty.hidden = false;
      empty.textContent = e.message;
    }
    if (!stopped) timer = setTimeout(tick, REFRESH_MS);
  }

  function tick() {
    if (document.hidden) timer = setTimeout(tick, REFRESH_MS);
    else load(true);
  }

  function render(page) {
    next = page.next_cursor;
    newer.disabled = !state.cursor;
    older.disabled = !next;
    where.textContent = `page ${state.back.length + 1}` + (page.runs.length ? ` · ${page.runs.length} runs` : "");
    empty.hidden = page.runs.length > 0;
    empty.textContent = state.status || state.workflow || state.since ? "No run matches these filters." : "No runs in this store yet.";
    fill(body, 
      ...page.runs.map((r) =>
        h(
          "tr",
          { dataset: { run: r.run_id, status: r.status } },
          h("td", null, pill(r.status)),
          h(
            "td.mono",
            null,
            h("a.run-link", { href: "/runs/" + r.run_id, "data-link": true, title: r.run_id }, shortId(r.run_id)),
            r.parent ? h("span.tag", { title: "a sub-workflow of " + r.parent }, "sub") : null,
          ),
          h("td", null, r.workflow),
          h("td", { title: when(r.started_at) }, ago(r.started_at)),
          h("td.num", null, duration(runDuration(r))),
          h("td", { title: r.ended_at ? when(r.ended_at) : "" }, r.ended_at ? ago(r.ended_at) : "—"),
        ),
      ),
    );
  }

  load();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
