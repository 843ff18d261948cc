/* netc serve: the page. Talks to the JSON API of the server that served it (docs/serve.md):
   analyses and drawings as you type (debounced, stale answers dropped), files opened and
   saved explicitly, selections tied across the editor, the diagram and the table. */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const DEBOUNCE_MS = 250;

  const state = {
    info: null,
    files: [],
    current: null, // {root, path, etag, writable}
    savedText: "",
    dirty: false,
    seq: 0,
    controllers: [],
    timer: 0,
    layers: [], // from /api/analyze: [{name, type, row, lines}]
    layerIndex: new Map(),
    rowLayers: [], // row -> [layer names]
    units: {}, // from /api/render: unit id -> [layer names]
    clusters: {}, // from /api/render: cluster id -> [layer names]
    clusterEls: new Map(),
    selectedCluster: null,
    doc: null, // the last analysis document
    sort: { key: null, dir: 1 },
    unitOfLayer: new Map(),
    unitEls: new Map(),
    svgText: null,
    dotText: null,
    view: { x: 0, y: 0, k: 1 },
    fitNext: true,
    selection: [],
  };

  // ---- formatting (as netc's report: 1000-based, bytes 1024-based) --------------------

  function human(value, binary) {
    const base = binary ? 1024 : 1000;
    const units = binary ? ["B", "KiB", "MiB", "GiB", "TiB"] : ["", "K", "M", "G", "T"];
    let amount = Number(value);
    for (const unit of units) {
      if (Math.abs(amount) < base || unit === units[units.length - 1]) {
        if (binary) return unit === "B" ? `${amount.toFixed(0)} B` : `${amount.toFixed(2)} ${unit}`;
        return unit === "" ? amount.toFixed(0) : `${amount.toFixed(2)}${unit}`;
      }
      amount /= base;
    }
    return String(value);
  }
  const exact = (v) => Number(v).toLocaleString("en-US");
  const shape = (s) => (s && s.length ? s.join("×") : "");
  const esc = (t) =>
    String(t).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  function fieldText(rf) {
    if (!rf || !rf.length) return "";
    const join = (vals) => {
      const texts = vals.map((v) => String(Number(v.toPrecision(6))));
      return new Set(texts).size === 1 ? texts[0] : texts.join("×");
    };
    return `${join(rf.map((a) => a.size))} / ${join(rf.map((a) => a.jump))} / ${join(rf.map((a) => a.start))}`;
  }

  // ---- small UI helpers -----------------------------------------------------------

  function status(text, kind) {
    const el = $("status");
    el.textContent = text;
    el.title = text;
    el.className = "status" + (kind ? " " + kind : "");
  }

  function toast(message, hint, isError) {
    const el = document.createElement("div");
    el.className = "toast" + (isError ? " error" : "");
    el.textContent = message;
    if (hint) {
      const h = document.createElement("span");
      h.className = "hint";
      h.textContent = hint;
      el.appendChild(h);
    }
    $("toasts").appendChild(el);
    setTimeout(() => el.remove(), isError ? 9000 : 3500);
  }

  function errorOf(payload, fallback) {
    const d = payload && payload.diagnostics && payload.diagnostics[0];
    return {
      message: (payload && payload.error) || fallback,
      hint: d && d.hint ? d.hint : d && d.line ? `${d.file || ""}:${d.line}:${d.column}: ${d.message}` : null,
    };
  }

  async function call(method, url, body, signal) {
    const init = { method, signal, headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    return response;
  }

  async function json(method, url, body, signal) {
    const response = await call(method, url, body, signal);
    let payload = null;
    try {
      payload = await response.json();
    } catch (_) {
      payload = { ok: false, error: `HTTP ${response.status}`, diagnostics: [] };
    }
    return { status: response.status, ok: response.ok, payload };
  }

  function download(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  const basename = (p) => p.split("/").pop();
  const stem = (p) => basename(p).replace(/\.[^.]+$/, "") || "network";

  // ---- the editor ------------------------------------------------------------------

  const editor = new window.NetcEditor({
    textarea: $("source"),
    pre: $("highlight"),
    gutter: $("gutter"),
    onChange: () => {
      setDirty(editor.text !== state.savedText);
      schedule(DEBOUNCE_MS);
    },
    onCaret: (line) => selectFromLine(line),
    onSave: () => save(),
  });

  function setDirty(dirty) {
    state.dirty = dirty;
    $("dirty").hidden = !dirty;
    $("save").disabled = !dirty || !state.current || !state.current.writable;
    $("save").title = state.current && !state.current.writable
      ? "This file is read-only here; use Save as…"
      : "Save to disk (Ctrl+S)";
  }

  // ---- files -----------------------------------------------------------------------

  async function loadFiles() {
    const { payload } = await json("GET", "/api/files");
    const files = payload.files || [];
    const key = (list) => list.map((f) => `${f.root}:${f.path}`).join("\n");
    if (state.files.length && key(files) === key(state.files)) return; // keep the open menu as it is
    state.files = files;
    const picker = $("picker");
    picker.innerHTML = "";
    const groups = { folder: "Served folder", zoo: "netc zoo (read-only)" };
    for (const root of ["folder", "zoo"]) {
      const files = state.files.filter((f) => f.root === root);
      if (!files.length) continue;
      const group = document.createElement("optgroup");
      group.label = groups[root];
      for (const f of files) {
        const option = document.createElement("option");
        option.value = `${root}:${f.path}`;
        option.textContent = f.path;
        group.appendChild(option);
      }
      picker.appendChild(group);
    }
    if (state.current) syncPicker();
  }

  function syncPicker() {
    const picker = $("picker");
    const value = `${state.current.root}:${state.current.path}`;
    if (![...picker.options].some((o) => o.value === value)) {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = `${state.current.path} (new)`;
      picker.insertBefore(option, picker.firstChild);
    }
    picker.value = value;
  }

  async function openFile(root, path) {
    const { ok, payload } = await json("GET", `/api/file?root=${encodeURIComponent(root)}&path=${encodeURIComponent(path)}`);
    if (!ok) {
      const e = errorOf(payload, "cannot open the file");
      toast(e.message, e.hint, true);
      return false;
    }
    state.current = { root: payload.root, path: payload.path, etag: payload.etag, writable: payload.writable };
    state.savedText = payload.text;
    state.fitNext = true;
    state.selection = [];
    editor.setText(payload.text);
    setDirty(false);
    syncPicker();
    history.replaceState(null, "", `#${payload.root}:${payload.path}`);
    document.title = `${payload.path} · netc serve`;
    schedule(0);
    return true;
  }

  function newBuffer(text) {
    state.current = { root: "folder", path: "untitled.net", etag: null, writable: true };
    state.savedText = "";
    editor.setText(text);
    setDirty(true);
    syncPicker();
    schedule(0);
  }

  async function put(root, path, etag) {
    return json("PUT", `/api/file?root=${encodeURIComponent(root)}&path=${encodeURIComponent(path)}`, {
      text: editor.text,
      etag,
    });
  }

  async function save() {
    const cur = state.current;
    if (!cur) return;
    if (!cur.writable) {
      toast(`${cur.path} is read-only here`, "use Save as… to keep a copy in the served folder", true);
      return;
    }
    const text = editor.text;
    const { ok, payload } = await put(cur.root, cur.path, cur.etag);
    if (!ok) {
      const e = errorOf(payload, "not saved");
      toast(e.message, e.hint, true);
      return;
    }
    cur.etag = payload.etag;
    state.savedText = text;
    setDirty(editor.text !== text);
    toast(`Saved ${cur.path}`);
    await loadFiles();
  }

  async function saveAs() {
    const suggestion = state.current ? `${stem(state.current.path)}-edited.net` : "network.net";
    let name = prompt("Save a copy in the served folder as:", suggestion);
    if (!name) return;
    name = name.trim();
    if (!/\.(net|prototxt|pbtxt)$/i.test(name)) name += ".net";
    let { ok, status: code, payload } = await put("folder", name, null);
    if (!ok && code === 409 && confirm(`${name} already exists. Overwrite it?`)) {
      const current = await json("GET", `/api/file?root=folder&path=${encodeURIComponent(name)}`);
      if (current.ok) ({ ok, payload } = await put("folder", name, current.payload.etag));
    }
    if (!ok) {
      const e = errorOf(payload, "not saved");
      toast(e.message, e.hint, true);
      return;
    }
    state.current = { root: "folder", path: name, etag: payload.etag, writable: true };
    state.savedText = editor.text;
    setDirty(false);
    await loadFiles();
    syncPicker();
    history.replaceState(null, "", `#folder:${name}`);
    toast(`Saved ${name}`);
    schedule(0);
  }

  // ---- analysis and drawing ---------------------------------------------------------

  function controls() {
    const body = { text: editor.text, depth: $("depth").value };
    if (state.current) {
      body.root = state.current.root;
      body.path = state.current.path;
    }
    const batch = $("batch").value.trim();
    if (batch) body.batch = Number(batch);
    const size = $("input-size").value.trim();
    if (size) body.input_size = size;
    return body;
  }

  function schedule(delay) {
    clearTimeout(state.timer);
    state.timer = setTimeout(update, delay);
  }

  async function update() {
    const seq = ++state.seq;
    for (const c of state.controllers) c.abort();
    const a = new AbortController();
    const r = new AbortController();
    state.controllers = [a, r];
    const body = controls();
    const started = performance.now();
    status("compiling…", "busy");
    let analyzed = null;
    let drawn = null;
    let failure = null;
    const analysis = json("POST", "/api/analyze", body, a.signal).then((res) => {
      if (seq !== state.seq) return;
      analyzed = performance.now() - started;
      if (res.ok) applyAnalysis(res.payload);
      else failure = res;
    });
    const drawing = json("POST", "/api/render", body, r.signal).then((res) => {
      if (seq !== state.seq) return;
      drawn = performance.now() - started;
      if (res.ok) applyRender(res.payload);
      else failure = failure || res;
    });
    const results = await Promise.allSettled([analysis, drawing]);
    if (seq !== state.seq) return;
    const broken = results.find((x) => x.status === "rejected");
    if (broken && broken.reason && broken.reason.name !== "AbortError") {
      status("the server does not answer", "error");
      return;
    }
    if (failure) {
      showFailure(failure);
      return;
    }
    editor.setDiagnostics([]);
    showProblems([]);
    $("canvas").classList.remove("stale");
    $("table-pane").classList.remove("stale");
    const n = state.layers.length;
    status(`${n} layers · updated in ${Math.round(Math.max(analyzed, drawn))} ms`);
    $("status").title = `round trip: analysis ${Math.round(analyzed)} ms, drawing ${Math.round(drawn)} ms`;
  }

  function showFailure(res) {
    const p = res.payload || {};
    const diagnostics = p.diagnostics || [];
    if (res.status === 422) {
      const name = state.current ? state.current.path : "<spec>";
      const here = diagnostics.filter((d) => d.file === name || d.file === "<spec>");
      editor.setDiagnostics(here);
      showProblems(diagnostics);
      status(p.error || "errors", "error");
    } else {
      editor.setDiagnostics([]);
      showProblems(diagnostics);
      status(p.error || `HTTP ${res.status}`, "error");
    }
    // keep the last good diagram and table, dimmed, while the text does not compile
    $("canvas").classList.add("stale");
    $("table-pane").classList.add("stale");
  }

  function keepCaretVisible() {
    // the problems list takes room from the editor: the line being typed stays in view
    if (document.activeElement === $("source")) editor.revealLine(editor.caretLine());
  }

  function showProblems(diagnostics) {
    const el = $("problems");
    if (!diagnostics.length) {
      el.hidden = true;
      el.innerHTML = "";
      keepCaretVisible();
      return;
    }
    el.hidden = false;
    const count = diagnostics.length;
    let html = `<div class="head">${count} problem${count === 1 ? "" : "s"}</div>`;
    diagnostics.forEach((d, i) => {
      const where = d.line ? `${esc(d.file || "")}:${d.line}:${d.column}` : esc(d.file || "netc");
      html += `<div class="problem" data-i="${i}"><span class="where">${where}</span>${esc(d.message)}`;
      if (d.hint) html += `<span class="hint">hint: ${esc(d.hint)}</span>`;
      html += "</div>";
    });
    el.innerHTML = html;
    keepCaretVisible();
    el.querySelectorAll(".problem").forEach((row) => {
      row.addEventListener("click", () => {
        const d = diagnostics[Number(row.dataset.i)];
        if (d.line) editor.revealLine(d.line, true);
      });
    });
  }

  function applyAnalysis(p) {
    const doc = p.analysis;
    state.layers = p.layers;
    state.layerIndex = new Map(p.layers.map((l) => [l.name, l]));
    state.rowLayers = doc.layers.map(() => []);
    for (const l of p.layers) if (l.row !== null && l.row !== undefined) state.rowLayers[l.row].push(l.name);
    updateDepth(p.max_depth, p.depth);
    renderTotals(doc);
    renderTable(doc);
    applySelection(state.selection.filter((n) => state.layerIndex.has(n)), null);
  }

  function updateDepth(maxDepth, resolved) {
    const select = $("depth");
    const value = select.value;
    const wanted = ["auto", "full"];
    for (let d = 1; d <= maxDepth; d++) wanted.push(String(d));
    const have = [...select.options].map((o) => o.value);
    if (have.join() !== wanted.join()) {
      select.innerHTML = wanted.map((v) => `<option value="${v}">${v}</option>`).join("");
      select.value = wanted.includes(value) ? value : "auto";
    }
    select.options[0].textContent = resolved ? `auto (${resolved})` : "auto (full)";
  }

  function renderTotals(doc) {
    const t = doc.totals;
    const m = doc.training_memory;
    const io = (o) => Object.entries(o).map(([k, v]) => `<b>${esc(k)}</b> ${esc(shape(v))}`).join(", ");
    const item = (k, v, title) => `<span class="item" title="${esc(title || "")}"><span class="k">${k}</span><span class="v">${v}</span></span>`;
    $("totals").innerHTML = [
      item("params", `${exact(t.params)} (${human(t.params)})`, `trainable ${exact(t.trainable)}, frozen ${exact(t.frozen)}, buffers ${exact(t.buffers)}`),
      item("MACs", human(t.macs), `${exact(t.macs)} multiply-accumulates of conv/deconv/fc`),
      item("FLOPs", human(t.flops), `${exact(t.flops)} (${doc.convention.flops})`),
      item("activations", human(t.forward_activation_bytes, true), "forward, all tensors at once"),
      item(
        "training peak",
        human(m.peak, true),
        `${doc.convention.optimizer}, batch ${doc.batch}: parameters ${human(m.parameters, true)} + gradients ${human(m.gradients, true)} + optimizer ${human(m.optimizer, true)} + saved activations ${human(m.activations, true)} + workspace ${human(m.workspace, true)}`
      ),
      `<span class="io">${esc(doc.network)} · inputs ${io(doc.inputs)} → outputs ${io(doc.outputs)} · batch ${doc.batch}, ${doc.convention.dtype}, counting ${esc(doc.convention.counting)}</span>`,
    ].join("");
    $("net-title").textContent = doc.network;
  }

  const SORT_KEYS = {
    order: null,
    name: (r) => r.name,
    type: (r) => r.type,
    output: (r) => (r.output || []).reduce((a, b) => a * b, 1),
    params: (r) => r.weights + r.biases,
    macs: (r) => r.macs,
    flops: (r) => r.flops,
    activations: (r) => r.activation_bytes,
    rf: (r) => (r.receptive_field && r.receptive_field.length ? r.receptive_field[0].size : 0),
  };

  function sortedRows(doc) {
    const order = doc.layers.map((_, i) => i);
    const key = SORT_KEYS[state.sort.key];
    if (!key) return order;
    const dir = state.sort.dir;
    return order.sort((a, b) => {
      const x = key(doc.layers[a]);
      const y = key(doc.layers[b]);
      const c = typeof x === "string" ? x.localeCompare(y) : x - y;
      return c * dir || a - b;
    });
  }

  function renderSortMarks() {
    for (const th of $("layers").tHead.rows[0].cells) {
      const on = th.dataset.sort === state.sort.key;
      th.classList.toggle("sorted", on);
      th.dataset.dir = on ? (state.sort.dir > 0 ? "asc" : "desc") : "";
      th.setAttribute("aria-sort", on ? (state.sort.dir > 0 ? "ascending" : "descending") : "none");
    }
  }

  $("layers").tHead.addEventListener("click", (e) => {
    const th = e.target.closest("th");
    if (!th || !th.dataset.sort || !state.doc) return;
    const key = th.dataset.sort === "order" ? null : th.dataset.sort;
    const numeric = key && !["name", "type"].includes(key);
    const first = numeric ? -1 : 1; // big numbers first, names A to Z
    if (state.sort.key !== key) state.sort = { key, dir: first };
    else if (state.sort.dir === first) state.sort.dir = -first;
    else state.sort = { key: null, dir: 1 }; // third click: the network's order again
    renderTable(state.doc);
    applySelection(state.selection, null);
  });

  function renderTable(doc) {
    state.doc = doc;
    renderSortMarks();
    const parts = sortedRows(doc).map((i) => {
      const r = doc.layers[i];
      const collapsed = r.layers > 1 || r.type.includes("×") || state.rowLayers[i].length > 1;
      const type = collapsed ? `${r.type} (${r.layers})` : r.type;
      const params = r.weights + r.biases;
      return (
        `<tr data-row="${i}">` +
        `<td class="num muted">${i + 1}</td>` +
        `<td class="name">${esc(r.name)}</td>` +
        `<td><span class="tag${collapsed ? " instance" : ""}">${esc(type)}</span></td>` +
        `<td>${esc(shape(r.output))}</td>` +
        `<td class="num" title="weights ${exact(r.weights)}, biases ${exact(r.biases)}${r.frozen ? `, frozen ${exact(r.frozen)}` : ""}">${params ? exact(params) : ""}</td>` +
        `<td class="num" title="${exact(r.macs)}">${r.macs ? human(r.macs) : ""}</td>` +
        `<td class="num" title="${exact(r.flops)}">${r.flops ? human(r.flops) : ""}</td>` +
        `<td class="num" title="${exact(r.activation_bytes)} bytes">${human(r.activation_bytes, true)}</td>` +
        `<td>${esc(fieldText(r.receptive_field))}</td>` +
        "</tr>"
      );
    });
    $("layers").tBodies[0].innerHTML = parts.join("");
  }

  function applyRender(p) {
    state.units = p.units;
    state.clusters = p.clusters || {};
    state.clusterEls = new Map();
    state.unitOfLayer = new Map();
    for (const [id, names] of Object.entries(p.units)) for (const n of names) state.unitOfLayer.set(n, id);
    const canvas = $("canvas");
    const notice = $("diagram-notice");
    state.unitEls = new Map();
    if (!p.svg) {
      state.svgText = null;
      state.dotText = p.dot || null;
      canvas.innerHTML = "";
      const g = p.graphviz || {};
      notice.innerHTML =
        `<strong>No diagram</strong>${esc(g.message || "Graphviz failed")}` +
        (g.hint ? `<br>${esc(g.hint)}` : "") +
        (p.dot ? '<br><button type="button" id="dot-download">Download the DOT</button>' : "");
      notice.hidden = false;
      const button = $("dot-download");
      if (button) button.onclick = () => download(new Blob([state.dotText], { type: "text/vnd.graphviz" }), `${stem(currentName())}.dot`);
      return;
    }
    notice.hidden = true;
    state.svgText = p.svg;
    const parsed = new DOMParser().parseFromString(p.svg, "image/svg+xml");
    const svg = document.importNode(parsed.documentElement, true);
    const box = svg.viewBox && svg.viewBox.baseVal;
    if (box && box.width) {
      svg.setAttribute("width", box.width);
      svg.setAttribute("height", box.height);
    }
    canvas.replaceChildren(svg);
    for (const g of svg.querySelectorAll("g.node")) {
      const title = g.querySelector("title");
      if (!title) continue;
      const id = title.textContent.trim();
      state.unitEls.set(id, g);
      title.textContent = (p.units[id] || []).join("\n") || title.textContent; // hover text
    }
    for (const g of svg.querySelectorAll("g.cluster")) {
      const title = g.querySelector("title");
      if (title && state.clusters[title.textContent.trim()]) state.clusterEls.set(title.textContent.trim(), g);
    }
    if (state.fitNext) {
      state.fitNext = false;
      fit();
    }
    applySelection(state.selection, null);
  }

  // ---- selection across editor, table and diagram -----------------------------------

  function applySelection(names, from, cluster) {
    state.selection = names;
    if (from !== null) state.selectedCluster = cluster || null;
    for (const [id, g] of state.clusterEls) g.classList.toggle("sel", id === state.selectedCluster);
    const rows = new Set();
    const units = new Set();
    const ranges = [];
    const seen = new Set();
    for (const n of names) {
      const layer = state.layerIndex.get(n);
      if (layer) {
        if (layer.row !== null) rows.add(layer.row);
        for (const r of layer.lines) {
          const key = r.join(":");
          if (!seen.has(key)) {
            seen.add(key);
            ranges.push(r);
          }
        }
      }
      const unit = state.unitOfLayer.get(n);
      if (unit) units.add(unit);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    let firstRow = null;
    for (const tr of $("layers").tBodies[0].rows) {
      const on = rows.has(Number(tr.dataset.row));
      tr.classList.toggle("sel", on);
      if (on && !firstRow) firstRow = tr;
    }
    let firstUnit = null;
    for (const [id, g] of state.unitEls) {
      const on = units.has(id);
      g.classList.toggle("sel", on);
      if (on && !firstUnit) firstUnit = g;
    }
    if (from === null) return;
    if (from !== "table" && firstRow) firstRow.scrollIntoView({ block: "nearest" });
    if (from !== "diagram" && firstUnit) reveal(firstUnit);
    editor.select(ranges, from !== "editor");
  }

  function selectFromLine(line) {
    const own = state.layers.filter((l) => l.lines.length && l.lines[0][0] <= line && line <= l.lines[0][1]);
    const any = own.length ? own : state.layers.filter((l) => l.lines.some((r) => r[0] <= line && line <= r[1]));
    applySelection(any.map((l) => l.name), "editor");
  }

  $("layers").tBodies[0].addEventListener("click", (e) => {
    const tr = e.target.closest("tr");
    if (!tr) return;
    applySelection(state.rowLayers[Number(tr.dataset.row)] || [], "table");
  });

  // ---- zoom and pan -------------------------------------------------------------------

  const viewport = $("viewport");

  function setView(x, y, k) {
    state.view = { x, y, k };
    $("canvas").style.transform = `translate(${x}px, ${y}px) scale(${k})`;
    $("zoom-level").textContent = `${Math.round(k * 100)}%`;
  }

  function svgSize() {
    const svg = $("canvas").querySelector("svg");
    if (!svg) return null;
    return { w: Number(svg.getAttribute("width")) || 1, h: Number(svg.getAttribute("height")) || 1 };
  }

  function fit() {
    const size = svgSize();
    if (!size) return;
    const vw = viewport.clientWidth;
    const vh = viewport.clientHeight;
    let k = Math.min(vw / size.w, vh / size.h) * 0.96;
    let y = (vh - size.h * k) / 2;
    if (k < 0.45) {
      // a tall network: fit the width and start at the top instead of a speck
      k = Math.min((vw / size.w) * 0.96, 1);
      y = 12;
    }
    k = Math.min(k, 1.6);
    setView((vw - size.w * k) / 2, Math.max(y, 12), k);
  }

  function zoomAt(factor, cx, cy) {
    const { x, y, k } = state.view;
    const nk = Math.min(8, Math.max(0.03, k * factor));
    const f = nk / k;
    setView(cx - (cx - x) * f, cy - (cy - y) * f, nk);
  }

  function reveal(el) {
    const a = el.getBoundingClientRect();
    const v = viewport.getBoundingClientRect();
    const inside = a.left >= v.left && a.right <= v.right && a.top >= v.top && a.bottom <= v.bottom;
    if (inside) return;
    const dx = v.left + v.width / 2 - (a.left + a.width / 2);
    const dy = v.top + v.height / 2 - (a.top + a.height / 2);
    setView(state.view.x + dx, state.view.y + dy, state.view.k);
  }

  viewport.addEventListener(
    "wheel",
    (e) => {
      e.preventDefault();
      const v = viewport.getBoundingClientRect();
      zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - v.left, e.clientY - v.top);
    },
    { passive: false }
  );

  let drag = null;
  viewport.addEventListener("mousedown", (e) => {
    if (e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, vx: state.view.x, vy: state.view.y, moved: false };
  });
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 3) {
      drag.moved = true;
      viewport.classList.add("panning");
    }
    if (drag.moved) setView(drag.vx + dx, drag.vy + dy, state.view.k);
  });
  window.addEventListener("mouseup", (e) => {
    if (!drag) return;
    const wasDrag = drag.moved;
    drag = null;
    viewport.classList.remove("panning");
    if (wasDrag) return;
    if (!e.target.closest || !viewport.contains(e.target)) return;
    const g = e.target.closest("g.node");
    if (g) {
      const id = [...state.unitEls].find(([, el]) => el === g);
      if (id) applySelection(state.units[id[0]] || [], "diagram");
      return;
    }
    const box = e.target.closest("g.cluster");
    const cluster = box && [...state.clusterEls].find(([, el]) => el === box);
    if (cluster) applySelection(state.clusters[cluster[0]] || [], "diagram", cluster[0]);
  });
  viewport.addEventListener("dblclick", fit);
  viewport.addEventListener("keydown", (e) => {
    const c = { x: viewport.clientWidth / 2, y: viewport.clientHeight / 2 };
    if (e.key === "+" || e.key === "=") zoomAt(1.2, c.x, c.y);
    else if (e.key === "-") zoomAt(1 / 1.2, c.x, c.y);
    else if (e.key === "0") fit();
  });
  $("zoom-in").onclick = () => zoomAt(1.25, viewport.clientWidth / 2, viewport.clientHeight / 2);
  $("zoom-out").onclick = () => zoomAt(0.8, viewport.clientWidth / 2, viewport.clientHeight / 2);
  $("zoom-fit").onclick = fit;

  // ---- splitters ----------------------------------------------------------------------

  function splitter(el, onMove) {
    el.addEventListener("mousedown", (e) => {
      e.preventDefault();
      el.classList.add("dragging");
      const move = (ev) => onMove(ev);
      const up = () => {
        el.classList.remove("dragging");
        window.removeEventListener("mousemove", move);
        window.removeEventListener("mouseup", up);
        editor.syncScroll();
      };
      window.addEventListener("mousemove", move);
      window.addEventListener("mouseup", up);
    });
  }
  splitter($("split-main"), (e) => {
    const pct = Math.min(75, Math.max(18, (e.clientX / window.innerWidth) * 100));
    document.documentElement.style.setProperty("--left", `${pct}%`);
  });
  splitter($("split-right"), (e) => {
    const pane = document.querySelector(".right-pane").getBoundingClientRect();
    const pct = Math.min(85, Math.max(15, ((e.clientY - pane.top) / pane.height) * 100));
    document.documentElement.style.setProperty("--diagram", `${pct}%`);
  });

  // ---- controls and downloads -----------------------------------------------------------

  function currentName() {
    return state.current ? state.current.path : "network.net";
  }

  $("batch").addEventListener("input", () => schedule(400));
  $("input-size").addEventListener("input", () => schedule(400));
  $("depth").addEventListener("change", () => {
    state.fitNext = true;
    schedule(0);
  });
  $("picker").addEventListener("change", async () => {
    const [root, ...rest] = $("picker").value.split(":");
    const path = rest.join(":");
    if (state.dirty && !confirm(`Discard the unsaved changes to ${currentName()}?`)) {
      syncPicker();
      return;
    }
    if (!(await openFile(root, path))) syncPicker();
  });
  $("save").onclick = save;
  $("save-as").onclick = saveAs;
  window.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") {
      e.preventDefault();
      save();
    }
  });
  window.addEventListener("beforeunload", (e) => {
    if (state.dirty) {
      e.preventDefault();
      e.returnValue = "";
    }
  });

  for (const button of document.querySelectorAll("[data-download]")) {
    button.addEventListener("click", async () => {
      const kind = button.dataset.download;
      const name = stem(currentName());
      if (kind === "spec") {
        download(new Blob([editor.text], { type: "text/plain" }), basename(currentName()));
      } else if (kind === "svg") {
        if (!state.svgText) toast("No diagram to download", "the spec has errors, or Graphviz is missing", true);
        else download(new Blob([state.svgText], { type: "image/svg+xml" }), `${name}.svg`);
      } else {
        button.disabled = true;
        try {
          const response = await call("POST", `/api/build?target=${kind}`, controls());
          if (response.ok) {
            download(await response.blob(), `${name}.${kind === "torch" ? "py" : "onnx"}`);
          } else {
            let payload = null;
            try {
              payload = await response.json();
            } catch (_) {}
            const e = errorOf(payload, `HTTP ${response.status}`);
            toast(e.message, e.hint, true);
          }
        } catch (err) {
          toast("the server does not answer", String(err), true);
        } finally {
          button.disabled = false;
        }
      }
    });
  }

  // ---- start ------------------------------------------------------------------------------

  const STARTER = `# A new network: edit it, the diagram and the table follow.
name: "tiny"
input: "data"  input_shape { dim: 1 dim: 3 dim: 32 dim: 32 }

layer { name: "conv1" type: "Convolution" num_output: 16 kernel_size: 3 pad: 1 }
layer { name: "relu1" type: "ReLU" }
layer { name: "pool1" type: "Pooling" pool: MAX kernel_size: 2 stride: 2 }
layer { name: "fc" type: "InnerProduct" num_output: 10 }
`;

  async function start() {
    const info = await json("GET", "/api/info");
    state.info = info.payload;
    if (state.info && !state.info.onnx) {
      document.querySelector('[data-download="onnx"]').title = "ONNX export needs the onnx package (pip install 'netc[onnx]')";
    }
    await loadFiles();
    const hash = decodeURIComponent(location.hash.slice(1));
    const sep = hash.indexOf(":");
    if (sep > 0 && (await openFile(hash.slice(0, sep), hash.slice(sep + 1)))) return;
    const initial = state.info && state.info.initial;
    if (initial && (await openFile(initial.root, initial.path))) return;
    const first = state.files.find((f) => f.root === "folder") || state.files[0];
    if (first && (await openFile(first.root, first.path))) return;
    newBuffer(STARTER);
  }

  start().catch((err) => status(`cannot start: ${err}`, "error"));
})();
