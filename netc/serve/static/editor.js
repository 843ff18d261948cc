/* netc serve: the spec editor. A transparent <textarea> (which keeps the browser's editing,
   undo and selection) over a <pre> that shows the same text highlighted, with line numbers
   in a gutter and diagnostics drawn where they point: a squiggle under the columns, a marker
   in the gutter and the message at the end of the line. Written for netc; no libraries. */
"use strict";

(function () {
  const KEYWORDS = new Set(
    "define repeat in if else let import extends freeze tune replace remove and or not".split(" ")
  );
  const LITERALS = new Set(["true", "false"]);
  const BLOCKS = new Set(["layer", "layers"]);
  // one alternative per token class: comment, string, number, name, space, anything else
  const TOKEN =
    /(#.*)|("(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?)|(0[xX][0-9A-Fa-f]+|(?:\d+(?:\.(?!\.)\d*)?|\.\d+)(?:[eE][+-]?\d+)?[fF]?)|([A-Za-z_][A-Za-z0-9_]*)|(\s+)|([\s\S])/y;
  const TAB = 4;
  const PAD_TOP = 8;
  const PAD_LEFT = 12;

  function escapeHtml(text) {
    return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  }

  function span(cls, text) {
    return cls ? `<span class="${cls}">${escapeHtml(text)}</span>` : escapeHtml(text);
  }

  function stringHtml(text, cls) {
    // `${...}` interpolations inside a string stand out from its literal text
    let out = "";
    let last = 0;
    const re = /\$\{[^}]*\}?/g;
    let m;
    while ((m = re.exec(text)) !== null) {
      out += span(cls, text.slice(last, m.index)) + span("t-int", m[0]);
      last = m.index + m[0].length;
    }
    return out + span(cls, text.slice(last));
  }

  /** One line of netc (or Caffe prototxt) as highlighted HTML. */
  function highlightLine(line) {
    let out = "";
    let prevWord = "";
    let field = "";
    TOKEN.lastIndex = 0;
    while (TOKEN.lastIndex < line.length) {
      const start = TOKEN.lastIndex;
      const m = TOKEN.exec(line);
      if (!m) break;
      const text = m[0];
      if (m[1] !== undefined) {
        out += span("t-com", text);
      } else if (m[2] !== undefined) {
        out += stringHtml(text, field === "type" ? "t-ty" : "t-str");
        field = "";
      } else if (m[3] !== undefined) {
        out += span("t-num", text);
        field = "";
      } else if (m[4] !== undefined) {
        const rest = line.slice(start + text.length);
        let cls = "";
        if (KEYWORDS.has(text)) cls = "t-kw";
        else if (LITERALS.has(text)) cls = "t-lit";
        else if (/^\s*[:{]/.test(rest)) cls = BLOCKS.has(text) ? "t-block" : "t-field";
        else if (prevWord === "define" || /^\s*["']/.test(rest)) cls = "t-tpl";
        else if (/^[A-Z][A-Z0-9_]+$/.test(text)) cls = "t-enum";
        out += span(cls, text);
        field = cls === "t-field" ? text : "";
        prevWord = text;
      } else if (m[5] !== undefined) {
        out += text;
      } else {
        out += span(":{}[]()<>,;=".includes(text) ? "t-punct" : "", text);
        if (text !== ":") field = "";
      }
    }
    return out;
  }

  /** The column (0-based) at which character `index` of `line` is drawn, tabs expanded. */
  function visualColumn(line, index) {
    let col = 0;
    for (let i = 0; i < Math.min(index, line.length); i++) {
      col = line[i] === "\t" ? col + TAB - (col % TAB) : col + 1;
    }
    return col + Math.max(0, index - line.length);
  }

  class Editor {
    constructor({ textarea, pre, gutter, onChange, onCaret, onSave }) {
      this.ta = textarea;
      this.pre = pre;
      this.gutter = gutter;
      this.onChange = onChange || (() => {});
      this.onCaret = onCaret || (() => {});
      this.onSave = onSave || (() => {});
      this.cache = new Map(); // line text -> highlighted HTML
      this.errors = new Map(); // line -> [diagnostic]
      this.selected = new Set(); // lines
      this.lineCount = 0;
      this.frame = 0;
      this.pre.innerHTML = '<div class="lines"></div><div class="marks"></div>';
      this.linesEl = this.pre.firstChild;
      this.marksEl = this.pre.lastChild;
      this.charWidth = this.measure();
      this.ta.addEventListener("input", () => {
        this.schedule();
        this.onChange(this.ta.value);
      });
      this.ta.addEventListener("scroll", () => this.syncScroll());
      this.ta.addEventListener("keydown", (e) => this.keydown(e));
      this.ta.addEventListener("click", () => this.onCaret(this.caretLine()));
      this.ta.addEventListener("keyup", (e) => {
        if (e.key.startsWith("Arrow") || e.key === "PageUp" || e.key === "PageDown") {
          this.onCaret(this.caretLine());
        }
      });
      window.addEventListener("resize", () => this.syncScroll());
    }

    measure() {
      const probe = document.createElement("span");
      probe.textContent = "x".repeat(100);
      probe.style.visibility = "hidden";
      this.pre.appendChild(probe);
      const width = probe.getBoundingClientRect().width / 100 || 7.8;
      probe.remove();
      return width;
    }

    get text() {
      return this.ta.value;
    }

    setText(text) {
      this.ta.value = text;
      this.ta.scrollTop = 0;
      this.ta.scrollLeft = 0;
      this.errors.clear();
      this.selected.clear();
      this.render();
    }

    lineHeight() {
      return parseFloat(getComputedStyle(this.ta).lineHeight) || 20;
    }

    caretLine() {
      return this.ta.value.slice(0, this.ta.selectionStart).split("\n").length;
    }

    schedule() {
      if (this.frame) return;
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.render();
      });
    }

    syncScroll() {
      this.pre.scrollTop = this.ta.scrollTop;
      this.pre.scrollLeft = this.ta.scrollLeft;
      this.gutter.scrollTop = this.ta.scrollTop;
    }

    render() {
      const lines = this.ta.value.split("\n");
      if (this.cache.size > 20000) this.cache.clear();
      const parts = new Array(lines.length);
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        let html = this.cache.get(line);
        if (html === undefined) {
          html = highlightLine(line);
          this.cache.set(line, html);
        }
        const n = i + 1;
        const cls = this.selected.has(n) ? " sel" : this.errors.has(n) ? " errline" : "";
        parts[i] = `<div class="ln${cls}">${html}</div>`;
      }
      this.linesEl.innerHTML = parts.join("");
      this.lineCount = lines.length;
      this.renderGutter();
      this.renderMarks(lines);
      this.syncScroll();
    }

    renderGutter() {
      const parts = new Array(this.lineCount);
      for (let n = 1; n <= this.lineCount; n++) {
        const errs = this.errors.get(n);
        const cls = errs ? "err" : this.selected.has(n) ? "sel" : "";
        const title = errs ? ` title="${escapeHtml(errs.map((d) => d.message).join("\n"))}"` : "";
        parts[n - 1] = `<div class="${cls}"${title}>${n}</div>`;
      }
      this.gutter.innerHTML = parts.join("");
    }

    renderMarks(lines) {
      const lh = this.lineHeight();
      const cw = this.charWidth;
      let html = "";
      for (const [n, diags] of this.errors) {
        const line = lines[n - 1] ?? "";
        const top = PAD_TOP + (n - 1) * lh;
        for (const d of diags) {
          const start = Math.max(0, (d.column || 1) - 1);
          let end = d.end_line === n && d.end_column ? d.end_column - 1 : line.length;
          if (end <= start) end = start + 1;
          const x0 = visualColumn(line, start);
          const x1 = visualColumn(line, end);
          html += `<div class="squiggle" style="left:${PAD_LEFT + x0 * cw}px;top:${top + lh - 4}px;width:${Math.max(1, x1 - x0) * cw}px"></div>`;
        }
        const text = diags
          .map((d) => escapeHtml(d.message) + (d.hint ? ` <span class="hint">— ${escapeHtml(d.hint)}</span>` : ""))
          .join("  ·  ");
        const x = PAD_LEFT + (visualColumn(line, line.length) + 3) * cw;
        html += `<div class="lens" style="left:${x}px;top:${top}px;line-height:${lh}px">◀ ${text}</div>`;
      }
      this.marksEl.innerHTML = html;
    }

    /** Diagnostics of this file: [{line, column, end_line, end_column, message, hint}]. */
    setDiagnostics(diagnostics) {
      this.errors.clear();
      for (const d of diagnostics) {
        if (!d.line) continue;
        const line = Math.min(d.line, Math.max(1, this.lineCount));
        if (!this.errors.has(line)) this.errors.set(line, []);
        this.errors.get(line).push(d);
      }
      this.render();
    }

    /** Highlight line ranges [[first, last], ...]; `reveal` scrolls the first into view. */
    select(ranges, reveal) {
      this.selected.clear();
      for (const [a, b] of ranges) {
        for (let n = a; n <= Math.min(b, a + 5000); n++) this.selected.add(n);
      }
      const lineEls = this.linesEl.children;
      const gutterEls = this.gutter.children;
      for (let i = 0; i < lineEls.length; i++) {
        const n = i + 1;
        const on = this.selected.has(n);
        lineEls[i].classList.toggle("sel", on);
        lineEls[i].classList.toggle("errline", !on && this.errors.has(n));
        if (gutterEls[i] && !this.errors.has(n)) gutterEls[i].className = on ? "sel" : "";
      }
      if (reveal && ranges.length) this.revealLine(ranges[0][0]);
    }

    revealLine(n, focus) {
      const lh = this.lineHeight();
      const top = PAD_TOP + (n - 1) * lh;
      const view = this.ta.clientHeight;
      if (top < this.ta.scrollTop + lh || top > this.ta.scrollTop + view - 2 * lh) {
        this.ta.scrollTop = Math.max(0, top - view / 3);
      }
      if (focus) {
        const lines = this.ta.value.split("\n");
        let offset = 0;
        for (let i = 0; i < n - 1 && i < lines.length; i++) offset += lines[i].length + 1;
        this.ta.focus({ preventScroll: true });
        this.ta.setSelectionRange(offset, offset);
      }
      this.syncScroll();
    }

    insert(text) {
      // execCommand keeps the browser's undo history; setRangeText is the fallback
      if (!document.execCommand || !document.execCommand("insertText", false, text)) {
        this.ta.setRangeText(text, this.ta.selectionStart, this.ta.selectionEnd, "end");
        this.ta.dispatchEvent(new Event("input"));
      }
    }

    keydown(e) {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") {
        e.preventDefault();
        this.onSave();
        return;
      }
      if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
        e.preventDefault();
        this.insert("  ");
        return;
      }
      if (e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
        const before = this.ta.value.slice(0, this.ta.selectionStart);
        const line = before.slice(before.lastIndexOf("\n") + 1);
        let indent = /^[ \t]*/.exec(line)[0];
        if (/[{[(]\s*$/.test(line)) indent += "  ";
        e.preventDefault();
        this.insert("\n" + indent);
      }
    }
  }

  window.NetcEditor = Editor;
  window.netcHighlightLine = highlightLine;
})();
