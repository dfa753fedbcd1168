// The dashboard: a header, and the page the address names (the runs, or
// one run), changed without reloading.

import { api, setSession, signedIn, signOut, ApiError } from "weft/api.js";
import { h, clear, fill } from "weft/util.js";
import { runsPage } from "weft/runs.js";
import { runPage } from "weft/run.js";

let caps = null;
let current = null;

export async function start(session) {
  setSession(session);
  caps = await api.get("/api/v1");
  const root = document.getElementById("app");
  root.append(header(), h("main#page"));
  window.addEventListener("popstate", route);
  document.addEventListener("click", (e) => {
    const a = e.target.closest("a[data-link]");
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    navigate(a.getAttribute("href"));
  });
  route();
}

export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  route();
}

function route() {
  if (current) current.stop();
  const page = clear(document.getElementById("page"));
  const path = location.pathname;
  const ctx = { caps, navigate, newRun: openNewRun };
  const m = path.match(/^\/runs\/([^/]+)$/);
  current = m ? runPage(page, decodeURIComponent(m[1]), ctx) : runsPage(page, ctx);
}

function header() {
  const mode = {
    local: "runs go on in this process",
    shared: "shared store: workers run the runs",
    read_only: "read-only",
  }[caps.mode];
  return h(
    "header.top",
    null,
    h("a.brand", { href: "/", "data-link": true }, h("i"), "weft"),
    h("nav", null, h("a", { href: "/", "data-link": true }, "Runs")),
    h("div.spacer"),
    h("span.store", { title: mode }, caps.store, h("span.mode.mode-" + caps.mode, null, caps.mode.replace("_", " "))),
    caps.submit || caps.submit_yaml
      ? h("button.primary#new-run", { type: "button", onclick: openNewRun }, "New run")
      : null,
    signedIn() ? h("button.ghost", { type: "button", onclick: signOut, title: "Forget the token in this tab" }, "Sign out") : null,
  );
}

// The dialog that starts a run: a registered workflow and its inputs, or
// YAML text when the server takes it.
async function openNewRun() {
  const workflows = caps.submit ? await api.get("/api/v1/workflows") : [];
  const dialog = h("dialog.modal");
  const error = h("div.form-error", { hidden: true });
  const choice = h(
    "select#wf",
    null,
    workflows.map((w) => h("option", { value: w.name }, w.name)),
    caps.submit_yaml ? h("option", { value: "" }, "YAML text…") : null,
  );
  const describe = h("p.muted.small");
  const inputs = h("textarea#inputs", { rows: 6, spellcheck: "false" });
  const yaml = h("textarea#yaml", { rows: 12, spellcheck: "false", placeholder: "tasks:\n  hello:\n    action: core.echo\n    input: {message: hi}" });
  const yamlRow = h("label.block", null, "Workflow (YAML)", yaml);
  const sync = () => {
    const w = workflows.find((x) => x.name === choice.value);
    yamlRow.hidden = !!w;
    describe.textContent = w
      ? (w.description ? w.description + " — " : "") +
        (w.inputs.length
          ? "inputs: " + w.inputs.map((i) => i.name + (i.required ? "" : "?") + (i.secret ? " (secret)" : "")).join(", ")
          : "no inputs")
      : "Compiled against this server's actions.";
    const example = {};
    if (w) for (const i of w.inputs) if (!i.secret) example[i.name] = i.default ?? "";
    inputs.value = JSON.stringify(example, null, 2);
  };
  choice.addEventListener("change", sync);
  const submit = async (e) => {
    e.preventDefault();
    error.hidden = true;
    let parsed;
    try {
      parsed = inputs.value.trim() ? JSON.parse(inputs.value) : {};
    } catch (err) {
      error.hidden = false;
      error.textContent = "The inputs are not JSON: " + err.message;
      return;
    }
    const body = choice.value ? { workflow: choice.value, inputs: parsed } : { yaml: yaml.value, inputs: parsed };
    try {
      const r = await api.post("/api/v1/runs", body);
      dialog.close();
      dialog.remove();
      navigate("/runs/" + r.run_id);
    } catch (err) {
      error.hidden = false;
      fill(error, 
        h("strong", null, err.message),
        err instanceof ApiError && err.details.length > 1
          ? h("ul", null, err.details.map((d) => h("li", null, d.text)))
          : null,
      );
    }
  };
  dialog.append(
    h(
      "form",
      { onsubmit: submit },
      h("h2", null, "New run"),
      h("label.block", null, "Workflow", choice),
      describe,
      yamlRow,
      h("label.block", null, "Inputs (JSON)", inputs),
      error,
      h(
        "div.actions",
        null,
        h("button.ghost", { type: "button", onclick: () => (dialog.close(), dialog.remove()) }, "Close"),
        h("button.primary", { type: "submit" }, "Start"),
      ),
    ),
  );
  document.body.append(dialog);
  sync();
  dialog.showModal();
}
