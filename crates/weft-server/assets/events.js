// A run's live events: Server-Sent Events read through fetch (EventSource
// cannot send the Authorization header), reconnecting with Last-Event-ID
// so that nothing is missed or repeated.

import { authHeaders, signOut } from "weft/api.js";

export function follow(path, { lastId = null, onEvent, onStatus = () => {} }) {
  let stopped = false;
  let ctrl = null;
  let last = lastId;

  function dispatch(block) {
    let event = "message";
    let id = null;
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "id") id = value;
      else if (field === "data") data.push(value);
    }
    if (id !== null && id !== "") last = Number(id);
    if (!data.length) return;
    let parsed;
    try {
      parsed = JSON.parse(data.join("\n"));
    } catch {
      return;
    }
    if (event === "end" || event === "gone") stopped = true;
    onEvent(event, parsed);
  }

  (async () => {
    let delay = 500;
    while (!stopped) {
      ctrl = new AbortController();
      try {
        const headers = { Accept: "text/event-stream", ...authHeaders() };
        if (last !== null) headers["Last-Event-ID"] = String(last);
        const r = await fetch(path, { headers, signal: ctrl.signal, cache: "no-store" });
        if (r.status === 401) {
          signOut();
          return;
        }
        if (r.status === 404) {
          onStatus("gone");
          return;
        }
        if (!r.ok || !r.body) throw new Error("status " + r.status);
        onStatus("live");
        delay = 500;
        const reader = r.body.getReader();
        const decoder = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            dispatch(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
        }
      } catch {
        // Dropped, or stopped: try again unless stopped.
      }
      if (stopped) break;
      onStatus("reconnecting");
      await new Promise((res) => setTimeout(res, delay));
      delay = Math.min(delay * 2, 10000);
    }
    onStatus("ended");
  })();

  return {
    stop() {
      stopped = true;
      if (ctrl) ctrl.abort();
    },
  };
}
