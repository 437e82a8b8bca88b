// The console's only script: the live page's stream of events, and a
// busy state on forms that wait for a backend. Every page works without
// it; with it, new events appear at the top of the table as they flow.
"use strict";
// A form with data-busy disables its button while the answer comes, so an
// operator sees it is on its way and does not send it twice.
document.addEventListener("submit", (e) => {
  const form = e.target;
  if (!form.dataset || !form.dataset.busy) return;
  const b = form.querySelector("button[type=submit]");
  if (!b) return;
  // after the submit is on its way: a disabled button would not be sent
  setTimeout(() => { b.disabled = true; b.textContent = form.dataset.busy; }, 0);
});
(function () {
  const table = document.getElementById("live");
  if (!table || !window.EventSource) return;
  const body = table.tBodies[0];
  const state = document.getElementById("live-state");
  const empty = document.getElementById("live-empty");
  const max = 300;
  const setState = (text, cls) => { state.textContent = text; state.className = "badge " + cls; };
  const cell = (text, cls) => {
    const td = document.createElement("td");
    if (cls === "code") {
      const c = document.createElement("code");
      c.textContent = text;
      td.appendChild(c);
    } else {
      if (cls) td.className = cls;
      td.textContent = text;
    }
    return td;
  };
  const when = (iso) => {
    const d = new Date(iso);
    return isNaN(d) ? "—" : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  };
  // The stream's URL carries the ring's position when the page was drawn:
  // the server sends what came since, then every new event.
  const es = new EventSource(table.dataset.stream);
  es.onopen = () => setState(body.rows.length ? "live" : "live · waiting for events", "ok");
  es.onerror = () => setState("connection lost · retrying", "late");
  es.addEventListener("ev", (m) => {
    const e = JSON.parse(m.data);
    const tr = document.createElement("tr");
    tr.dataset.seq = e.seq;
    tr.className = "new";
    tr.append(cell(when(e.time), "small"), cell(e.type, "code"), cell(e.source, "small"), cell(e.key || "", "small"), cell(e.summary));
    body.insertBefore(tr, body.firstChild);
    while (body.rows.length > max) body.deleteRow(body.rows.length - 1);
    if (empty) empty.hidden = true;
    setState("live", "ok");
  });
})();
