// One run: its header and commands, its task graph coloured by state, the
// selected task's instances and attempts, and tabs for the timeline, the
// tasks, the data and the live events. Everything after the first load
// comes from the run's event stream.

import { api, query } from "weft/api.js";
import { h, clear, fill, pill, when, duration, runDuration, json, copyButton, throttle, shortId, count } from "weft/util.js";
import { follow } from "weft/events.js";
import { drawGraph } from "weft/graph.js";
import { drawTimeline } from "weft/timeline.js";

const LOG = 500;
const INSTANCES = 20;
const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

export function runPage(root, id, { caps }) {
  let run = null;
  let groups = new Map();
  let graphView = null;
  let stream = null;
  let selected = null;
  let stopped = false;
  let tab = "timeline";
  const log = [];

  const title = h("h1.run-title");
  const status = h("span");
  const meta = h("dl.meta");
  const buttons = h("div.commands");
  const notice = h("div.notice", { hidden: true });
  const inquiries = h("div.inquiries#inquiries", { hidden: true });
  const live = h("span.live.off#live", { title: "Following the run's journal" }, h("i"), "connecting");
  const graphArea = h("div.graph-area#graph");
  const side = h("aside.side#task-panel", { hidden: true });
  const tabBar = h("div.tabs", { role: "tablist" });
  const tabBody = h("div.tab-body");

  root.append(
    h(
      "section.card.run-head",
      null,
      h("div.crumbs", null, h("a", { href: "/", "data-link": true }, "Runs"), " / ", h("span.mono", null, shortId(id))),
      h("div.title-row", null, title, status, live, h("div.spacer"), buttons),
      h("div.id-row.mono.small", null, id, " ", copyButton(id, "Copy id")),
      meta,
      notice,
      inquiries,
    ),
    h("section.card.graph-card", null, h("div.graph-wrap", null, graphArea, side), legend()),
    h("section.card", null, tabBar, tabBody),
  );

  function legend() {
    const states = ["none", "pending", "running", "succeeded", "failed", "timed_out", "canceled"];
    return h(
      "div.legend",
      null,
      states.map((st) => h("span.key", null, h("i.swatch.st-" + st), st === "none" ? "not run" : st.replace("_", " "))),
      h("span.key", null, h("i.swatch.dashed"), "loop back"),
    );
  }

  function say(text, kind = "info") {
    notice.hidden = !text;
    notice.className = "notice " + kind;
    notice.textContent = text || "";
  }

  async function load() {
    try {
      run = await api.get(`/api/v1/runs/${id}`);
    } catch (e) {
      say(e.message, "error");
      return false;
    }
    groups = new Map(run.tasks.map((t) => [t.name, t]));
    renderHead();
    renderInquiries();
    renderTab();
    if (graphView) graphView.update(groups);
    if (selected) renderSide();
    return true;
  }

  function renderHead() {
    fill(title, run.workflow);
    fill(status, pill(run.status));
    document.title = `${run.workflow} · ${run.status} · weft`;
    renderMeta();
    renderButtons();
  }

  const plural = (n, word) => `${count(n)} ${word}${n === 1 ? "" : "s"}`;

  function renderMeta() {
    const items = [
      ["Started", when(run.started_at)],
      ["Duration", duration(runDuration(run))],
      ["Ended", run.ended_at ? when(run.ended_at) : "—"],
      ["Tasks", plural(run.instances, "instance")],
      ["Journal", plural(run.records, "record")],
    ];
    if (run.parent) items.push(["Parent", h("a.mono", { href: "/runs/" + run.parent, "data-link": true }, shortId(run.parent))]);
    if (run.children_total) items.push(["Sub-workflows", String(run.children_total)]);
    fill(meta, items.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", { dataset: { field: k.toLowerCase() } }, v))));
  }

  function renderButtons() {
    const a = run.allowed;
    const cancel = h("button.danger#cmd-cancel", { type: "button", disabled: !a.cancel }, "Cancel");
    let armed = false;
    cancel.addEventListener("click", () => {
      if (!armed) {
        armed = true;
        cancel.textContent = "Confirm cancel";
        cancel.classList.add("armed");
        setTimeout(() => {
          armed = false;
          cancel.textContent = "Cancel";
          cancel.classList.remove("armed");
        }, 4000);
        return;
      }
      command("cancel");
    });
    fill(buttons, 
      h("button.ghost#cmd-pause", { type: "button", disabled: !a.pause, onclick: () => command("pause") }, "Pause"),
      h("button.ghost#cmd-resume", { type: "button", disabled: !a.resume, onclick: () => command("resume") }, "Resume"),
      h("button.ghost#cmd-rerun", { type: "button", disabled: !a.rerun, title: "Run again from the tasks that failed or were canceled", onclick: () => command("rerun") }, "Re-run"),
      cancel,
    );
    if (caps.mode === "read_only") buttons.title = "This server shows the store read-only";
  }

  async function command(name) {
    say("");
    try {
      const r = await api.post(`/api/v1/runs/${id}/${name}`);
      say(`${name}: sent ${r.delivered === "here" ? "to the run" : "through the store to the process that holds the run"}.`, "ok");
    } catch (e) {
      say(e.message, "error");
      return;
    }
    setTimeout(async () => {
      await load();
      if (!TERMINAL.has(run.status)) connect();
    }, 300);
  }

  // ---- live ---------------------------------------------------------------

  // The side panel is drawn again only when its task changed, so that
  // what the reader opened in it stays open.
  let sideShown = null;
  const refresh = throttle(() => {
    renderMeta();
    renderTab();
    if (selected && JSON.stringify(groups.get(selected) ?? null) !== sideShown) renderSide();
  }, 600);

  // Follows the run from the last LOG records of its journal (so the
  // Events tab has the run's latest records, ended or not); the stream
  // closes by itself once the run has ended and everything was sent.
  function connect() {
    if (stream) stream.stop();
    const from = run.records - LOG;
    const lastId = from > 0 ? from - 1 : null;
    stream = follow(`/api/v1/runs/${id}/events`, {
      lastId,
      onStatus(st) {
        live.classList.toggle("off", st !== "live");
        fill(live, h("i"), st === "live" ? "live" : st === "ended" ? "ended" : st);
      },
      onEvent(kind, data) {
        if (stopped) return;
        if (kind === "state") onState(data);
        else if (kind === "record") onRecord(data);
        else if (kind === "end") {
          fill(live, h("i"), "ended");
          live.classList.add("off");
          load();
        } else if (kind === "gone") say("This run is no longer in the store (purged).", "error");
      },
    });
  }

  function onState(st) {
    if (st.full) groups = new Map();
    for (const t of st.tasks) groups.set(t.name, t);
    const changed = run.status !== st.status;
    run.status = st.status;
    run.records = st.records;
    run.tasks_total = st.tasks_total;
    run.ended_at = st.ended_at ?? run.ended_at;
    run.instances = [...groups.values()].reduce((n, g) => n + g.instances, 0);
    if (graphView) graphView.update(groups);
    if (changed) {
      fill(status, pill(run.status));
      // What can be done changed too.
      load();
    }
    refresh();
  }

  function onRecord(r) {
    log.push(r);
    if (log.length > LOG) log.splice(0, log.length - LOG);
    if (tab === "events") refresh();
  }

  // ---- the selected task --------------------------------------------------

  function select(name) {
    selected = name;
    if (graphView) graphView.select(name);
    side.hidden = !name;
    if (name) renderSide();
  }

  let sideCursor = 0;
  let sideKey = null;
  async function renderSide() {
    const g = groups.get(selected);
    sideShown = JSON.stringify(g ?? null);
    const key = selected;
    if (sideKey !== key) sideCursor = 0;
    sideKey = key;
    const close = h("button.ghost.small", { type: "button", title: "Close", onclick: () => select(null) }, "×");
    const head = h(
      "div.side-head",
      null,
      h("h2", null, selected),
      g ? pill(g.status) : null,
      h("div.spacer"),
      close,
    );
    const counts = g ? Object.entries(g.counts).map(([k, v]) => `${v} ${k.replace("_", " ")}`).join(", ") : "";
    const facts = !g ? null : h(
      "dl.facts",
      null,
      h("dt", null, "Instances"),
      h("dd", null, `${g.instances} (${counts})`),
      g.items != null ? [h("dt", null, "Items"), h("dd", null, String(g.items))] : null,
      h("dt", null, "Attempts"),
      h("dd", null, String(g.attempts)),
      h("dt", null, "Time"),
      h("dd", null, g.started_at ? duration(((g.ended_at ?? Date.now() / 1000) - g.started_at) * 1000) : "—"),
    );
    const list = h("div.instances", null, h("p.muted.small", null, "Loading instances…"));
    fill(side, head, facts, g && g.error ? h("div.error-box", null, g.error) : null, list);
    let page;
    try {
      page = await api.get(`/api/v1/runs/${id}/instances` + query({ task: key, cursor: sideCursor || "", limit: INSTANCES }));
    } catch (e) {
      fill(list, h("p.error", null, e.message));
      return;
    }
    if (selected !== key) return;
    if (!page.total) {
      fill(list, h("p.muted", null, "This task has not run (yet)."));
      return;
    }
    fill(list, 
      h("h3", null, `Instances${page.total > INSTANCES ? ` (${page.total})` : ""}`),
      page.instances.map(instanceRow),
      h(
        "div.pager",
        null,
        h("button.ghost.small", { type: "button", disabled: !sideCursor, onclick: () => ((sideCursor = 0), renderSide()) }, "First"),
        h("button.ghost.small", { type: "button", disabled: page.next_cursor == null, onclick: () => ((sideCursor = page.next_cursor), renderSide()) }, "Next"),
      ),
    );
  }

  function instanceRow(i) {
    const details = h("div.instance-body");
    const row = h(
      "details.instance",
      { dataset: { instance: i.instance } },
      h(
        "summary",
        null,
        pill(i.status),
        h("span.mono", null, "#" + i.instance),
        i.items != null ? h("span.muted.small", null, `${i.items} items`) : null,
        i.attempts > 1 ? h("span.muted.small", null, `${i.attempts} attempts`) : null,
        h("span.spacer"),
        h("span.muted.small", null, duration(i.duration_ms)),
      ),
      details,
    );
    row.addEventListener("toggle", async () => {
      if (!row.open || details.dataset.loaded) return;
      details.dataset.loaded = "1";
      details.append(
        h("dl.facts", null, h("dt", null, "Started"), h("dd", null, when(i.started_at)), h("dt", null, "Ended"), h("dd", null, when(i.ended_at)), h("dt", null, "Route"), h("dd", null, String(i.route))),
      );
      if (i.error) details.append(h("div.error-box", null, i.error));
      if (i.child_runs.length) {
        details.append(h("p.small", null, "Sub-workflow runs: ", i.child_runs.map((c) => [h("a.mono", { href: "/runs/" + c, "data-link": true }, shortId(c)), " "])));
      }
      if (i.result_truncated) {
        details.append(
          h("button.ghost.small", { type: "button", onclick: async (e) => e.target.replaceWith(json((await api.get(`/api/v1/runs/${id}/instances/${i.instance}`)).result)) }, `Show the result (${Math.round(i.result_bytes / 1024)} KB)`),
        );
      } else if (i.result !== null && i.result !== undefined) {
        details.append(h("div.field-label", null, "Result"), json(i.result));
      }
      const attempts = h("div.attempts");
      details.append(attempts);
      await loadAttempts(i.instance, attempts, 0);
    });
    return row;
  }

  async function loadAttempts(instance, box, cursor) {
    let page;
    try {
      page = await api.get(`/api/v1/runs/${id}/instances/${instance}/attempts` + query({ cursor: cursor || "", limit: 50 }));
    } catch (e) {
      box.append(h("p.error", null, e.message));
      return;
    }
    if (!page.attempts.length && !cursor) {
      box.append(h("p.muted.small", null, "No attempt has ended yet."));
      return;
    }
    if (!cursor) box.append(h("div.field-label", null, "Attempts"));
    const table = h(
      "table.attempts",
      null,
      page.attempts.map((a) =>
        h(
          "tr",
          null,
          h("td", null, a.item != null ? `item ${a.item}` : ""),
          h("td", null, `#${a.attempt}`),
          h("td", null, pill(a.outcome)),
          h("td.num", null, duration(a.duration_ms)),
          h("td", null, a.error ?? ""),
        ),
      ),
    );
    box.append(table);
    if (page.next_cursor != null) {
      const more = h("button.ghost.small", { type: "button" }, "More attempts");
      more.addEventListener("click", () => {
        more.remove();
        loadAttempts(instance, box, page.next_cursor);
      });
      box.append(more);
    }
  }

  // Answering a task that waits for a response: shown only when the server
  // says it can (GET /api/v1 `inquiries`).
  // ---- inquiries: tasks that wait for an answer ---------------------------

  async function renderInquiries() {
    if (!caps.inquiries || TERMINAL.has(run.status)) {
      inquiries.hidden = true;
      return;
    }
    let waits;
    try {
      waits = await api.get(`/api/v1/runs/${id}/inquiries`);
    } catch (e) {
      waits = [];
    }
    inquiries.hidden = !waits.length;
    if (!waits.length) return clear(inquiries);
    fill(
      inquiries,
      h("h2", null, waits.length === 1 ? "Waiting for an answer" : `Waiting for ${waits.length} answers`),
      waits.map((w) =>
        h(
          "div.inquiry-item",
          { dataset: { task: w.task } },
          h("div.inquiry-head", null, h("strong", null, w.task), h("span.muted.small", null, w.deadline_at ? `times out ${when(w.deadline_at)}` : "no time limit")),
          w.schema ? h("details", null, h("summary.small", null, "The answer must match this schema"), json(w.schema)) : null,
          inquiryForm(w.task, w.schema),
        ),
      ),
    );
  }

  // A first answer to edit: the schema's properties with a value of their type.
  function skeleton(schema) {
    if (!schema || schema.type !== "object" || !schema.properties) return null;
    const out = {};
    for (const [k, p] of Object.entries(schema.properties)) {
      out[k] = p.type === "boolean" ? true : p.type === "number" || p.type === "integer" ? 0 : p.type === "array" ? [] : p.type === "object" ? {} : "";
    }
    return out;
  }

  function inquiryForm(task, schema) {
    const first = skeleton(schema);
    const answer = h("textarea", { rows: 3, spellcheck: "false", name: "response", placeholder: '{"approved": true}' });
    if (first) answer.value = JSON.stringify(first);
    const out = h("p.small.inquiry-result");
    return h(
      "form.inquiry",
      {
        dataset: { task },
        onsubmit: async (e) => {
          e.preventDefault();
          let response;
          try {
            response = JSON.parse(answer.value || "null");
          } catch (err) {
            out.className = "small inquiry-result error";
            out.textContent = "Not JSON: " + err.message;
            return;
          }
          try {
            await api.post(`/api/v1/runs/${id}/tasks/${encodeURIComponent(task)}/respond`, { response });
            out.className = "small inquiry-result ok";
            out.textContent = "Answered.";
            setTimeout(load, 300);
          } catch (err) {
            out.className = "small inquiry-result error";
            out.textContent = err.message;
          }
        },
      },
      answer,
      h("button.primary", { type: "submit" }, "Answer"),
      out,
    );
  }

  // ---- tabs ---------------------------------------------------------------

  const TABS = [
    ["timeline", "Timeline"],
    ["tasks", "Tasks"],
    ["data", "Input & output"],
    ["events", "Events"],
  ];

  function renderTabs() {
    fill(tabBar, 
      ...TABS.map(([key, label]) =>
        h(
          "button.tab" + (tab === key ? ".active" : ""),
          { type: "button", role: "tab", dataset: { tab: key }, onclick: () => ((tab = key), renderTabs(), renderTab()) },
          label,
        ),
      ),
    );
  }

  function renderTab() {
    if (!run) return;
    if (tab === "timeline") drawTimeline(tabBody, run, groups);
    else if (tab === "tasks") renderTasks();
    else if (tab === "data") renderData();
    else renderLog();
  }

  // Any task by its name, in the side panel (its instances are paged
  // there): the way to the tasks past the first ones listed.
  const find = h("input#task-find", { type: "search", placeholder: "task name", "aria-label": "Show a task" });
  find.addEventListener("change", () => find.value.trim() && select(find.value.trim()));

  function renderTasks() {
    // Not while the reader types in it.
    if (document.activeElement === find && tabBody.contains(find)) return;
    const rows = [...groups.values()];
    const more = (run.tasks_total ?? rows.length) - rows.length;
    fill(
      tabBody,
      h(
        "div.task-find",
        null,
        more > 0 ? `The first ${count(rows.length)} of ${count(run.tasks_total)} tasks. ` : null,
        "Show a task:",
        find,
      ),
      rows.length
        ? h(
            "table.tasks",
            null,
            h("thead", null, h("tr", null, ["Task", "Status", "Instances", "Items", "Attempts", "Time", "Error"].map((c) => h("th", null, c)))),
            h(
              "tbody",
              null,
              rows.map((g) =>
                h(
                  "tr.clickable",
                  { onclick: () => select(g.name), dataset: { task: g.name } },
                  h("td", null, g.name),
                  h("td", null, pill(g.status)),
                  h("td.num", null, String(g.instances)),
                  h("td.num", null, g.items ?? "—"),
                  h("td.num", null, String(g.attempts)),
                  h("td.num", null, g.started_at ? duration(((g.ended_at ?? Date.now() / 1000) - g.started_at) * 1000) : "—"),
                  h("td.error-cell", null, g.error ?? ""),
                ),
              ),
            ),
          )
        : h("div.empty", null, "No task has run yet."),
    );
  }

  function renderData() {
    fill(tabBody, 
      h(
        "div.data",
        null,
        h("div", null, h("h3", null, "Inputs"), json(run.inputs), h("p.muted.small", null, "Inputs declared secret are masked.")),
        h(
          "div",
          null,
          h("h3", null, "Output"),
          TERMINAL.has(run.status) ? json(run.output) : h("p.muted", null, "The output is evaluated when the run ends."),
          run.errors.length
            ? [h("h3", null, "Errors"), h("ul.errors", null, run.errors.map((e) => h("li", null, e.task ? h("strong", null, e.task + ": ") : null, e.message)))]
            : null,
          run.children.length
            ? [
                h("h3", null, "Sub-workflow runs"),
                h("ul", null, run.children.map((c) => h("li", null, h("a.mono", { href: "/runs/" + c.run_id, "data-link": true }, shortId(c.run_id)), ` from ${c.task} #${c.instance}`))),
              ]
            : null,
        ),
      ),
    );
  }

  function renderLog() {
    if (!log.length) {
      fill(tabBody, h("div.empty", null, "Journal records appear here as the run goes on."));
      return;
    }
    fill(tabBody, 
      h(
        "table.log",
        null,
        h("thead", null, h("tr", null, ["#", "Time", "Record", "Task", "Outcome"].map((c) => h("th", null, c)))),
        h(
          "tbody",
          null,
          [...log].reverse().map((r) =>
            h(
              "tr",
              null,
              h("td.num.mono", null, String(r.seq)),
              h("td", null, when(r.ended_at ?? r.started_at)),
              h("td", null, r.kind === "command" ? `command ${r.command}` : r.kind),
              h("td", null, r.task ? `${r.task} #${r.instance}` + (r.item != null ? ` item ${r.item}` : "") + (r.attempt > 1 ? ` attempt ${r.attempt}` : "") : ""),
              h("td", null, r.outcome ? pill(r.outcome) : r.status ? pill(r.status) : "", r.error ? h("span.small.err", null, " " + r.error) : null),
            ),
          ),
        ),
      ),
    );
  }

  // ---- start --------------------------------------------------------------

  const ticker = setInterval(() => {
    if (run && !TERMINAL.has(run.status)) {
      const d = meta.querySelector('[data-field="duration"]');
      if (d) d.textContent = duration(runDuration(run));
    }
  }, 1000);

  (async () => {
    renderTabs();
    if (!(await load())) return;
    try {
      const graph = await api.get(`/api/v1/runs/${id}/graph`);
      if (stopped) return;
      graphView = drawGraph(graphArea, graph, { onSelect: select });
      graphView.update(groups);
    } catch (e) {
      graphArea.append(h("p.error", null, e.message));
    }
    connect();
  })();

  return {
    stop() {
      stopped = true;
      clearInterval(ticker);
      if (stream) stream.stop();
    },
  };
}
