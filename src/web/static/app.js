// Prompter's page script: label-config checks as you type, prompt placeholder highlighting,
// the model suggestions of the connection chosen, which earlier run a new run replaces, task
// file import (checked, summarized, then confirmed) with progress, live run progress,
// refreshing running jobs, copy buttons and confirmations, sliders that show their value, keyboard access to regions that
// scroll sideways, confusion-matrix shading, and forms that are sent once. Every request that
// changes something sends the session's CSRF token. No inline script or style anywhere: the
// pages' Content-Security-Policy allows only this file and the stylesheet.
"use strict";
(function () {
  const csrf = document.body.dataset.csrf || "";

  function send(method, url, body, type) {
    const headers = { "X-CSRF-Token": csrf };
    if (type) headers["Content-Type"] = type;
    return fetch(url, { method, headers, body, credentials: "same-origin" });
  }

  function debounce(fn, ms) {
    let timer;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  // Sliders show their value as they move (the threshold slider's accuracy to guarantee).
  document.querySelectorAll("input[type=range][data-output]").forEach((range) => {
    const out = document.getElementById(range.dataset.output);
    if (!out) return;
    const show = () => { out.textContent = range.value + (range.dataset.suffix || ""); };
    range.addEventListener("input", show);
    show();
  });

  // Label config: validated on the server as you type; errors point at line and column, and
  // likely mistakes (an attribute Label Studio does not know) are listed under a valid config.
  document.querySelectorAll("[data-validate-config]").forEach((area) => {
    const out = document.getElementById(area.getAttribute("aria-describedby"));
    const where = (p) => (p.line ? "Line " + p.line + ", column " + p.column + ": " : "");
    const check = debounce(async () => {
      const res = await send("POST", "/app/validate-config", JSON.stringify({ label_config: area.value }), "application/json");
      const body = await res.json().catch(() => ({ ok: false, message: "The check failed." }));
      const warnings = body.warnings || [];
      out.className = "check " + (body.ok ? (warnings.length ? "warn" : "good") : "bad");
      out.textContent = "";
      if (body.ok) {
        out.append("Valid: fields " + body.fields.join(", ") + (body.classes.length ? "; classes " + body.classes.join(", ") : ""));
        if (warnings.length) {
          const ul = document.createElement("ul");
          ul.className = "config-warnings";
          warnings.forEach((w) => { const li = document.createElement("li"); li.textContent = "Check: " + where(w) + w.message; ul.append(li); });
          out.append(ul);
        }
      } else {
        out.textContent = where(body) + body.message;
      }
    }, 300);
    area.addEventListener("input", check);
    check();
  });

  // Prompt editor: {field} placeholders highlighted, unknown ones flagged and said in words.
  const braces = (names) => names.map((n) => "{" + n + "}").join(", ");
  document.querySelectorAll("textarea[data-fields]").forEach((area) => {
    const known = new Set(area.dataset.fields.split(",").filter(Boolean));
    const out = document.getElementById(area.getAttribute("aria-describedby"));
    const words = document.createElement("p");
    words.className = "check bad placeholder-words";
    words.id = out.id + "-words";
    words.setAttribute("aria-live", "polite");
    out.after(words);
    area.setAttribute("aria-describedby", (area.getAttribute("aria-describedby") + " " + words.id).trim());
    const say = (unknown) => {
      if (!unknown.length) { words.textContent = ""; words.hidden = true; return; }
      const names = Array.from(new Set(unknown));
      const inputs = known.size ? "its inputs are " + braces(Array.from(known)) : "it has no input yet";
      words.textContent = braces(names) + (names.length > 1 ? " are not inputs" : " is not an input") +
        " of this project; " + inputs + ". Use one of those, or write {{ and }} for a brace in the text.";
      words.hidden = false;
    };
    const render = () => {
      out.textContent = "";
      const text = area.value;
      const re = /\{\{|\}\}|\{([^{}]*)\}/g;
      let last = 0, m, unknown = [];
      while ((m = re.exec(text)) !== null) {
        out.append(text.slice(last, m.index));
        if (m[1] === undefined) { out.append(m[0]); last = re.lastIndex; continue; }
        const name = m[1].split(/[.\[!:]/)[0].trim();
        const mark = document.createElement("mark");
        mark.textContent = m[0];
        const ok = known.has(name);
        mark.className = ok ? "field" : "unknown";
        if (!ok) { mark.title = "The project's tasks have no field " + name; unknown.push(name); }
        out.append(mark);
        last = re.lastIndex;
      }
      out.append(text.slice(last));
      out.dataset.unknown = unknown.join(",");
      say(unknown);
    };
    area.addEventListener("input", render);
    render();
  });

  // Schedule form: the next three firings in the schedule's time zone, as you type.
  document.querySelectorAll("[data-schedule-preview]").forEach((cron) => {
    const tz = cron.form.querySelector("[name=timezone]");
    const out = document.getElementById("schedule-preview");
    const list = document.getElementById("schedule-firings");
    const update = debounce(async () => {
      const params = new URLSearchParams({ cron: cron.value, timezone: tz.value });
      const res = await fetch(cron.dataset.schedulePreview + "?" + params.toString(), { credentials: "same-origin" }).catch(() => null);
      const body = res && res.ok ? await res.json().catch(() => null) : null;
      if (!body) return;
      out.className = "check " + (body.ok ? "good" : "bad");
      list.textContent = "";
      if (body.ok) {
        body.firings.forEach((f) => { const li = document.createElement("li"); li.textContent = f; list.append(li); });
      } else {
        const li = document.createElement("li"); li.textContent = body.message; list.append(li);
      }
    }, 250);
    cron.addEventListener("input", update);
    tz.addEventListener("input", update);
  });

  // Version editor: the model field suggests the models of the connection chosen (those its
  // test found, then its provider's known ones); a model not typed by hand follows the
  // connection's first one.
  const connectionSelect = document.getElementById("version-connection");
  const modelInput = document.getElementById("version-model");
  if (connectionSelect && modelInput) {
    connectionSelect.addEventListener("change", () => {
      const before = document.getElementById(modelInput.getAttribute("list") || "");
      const after = document.getElementById("models-" + connectionSelect.value);
      if (!after) return;
      if (!modelInput.value.trim() || (before && modelInput.value === before.dataset.default)) {
        modelInput.value = after.dataset.default || "";
      }
      modelInput.setAttribute("list", after.id);
    });
  }

  // Run form: say which earlier run of the version the chosen project and tasks replace.
  const runForm = document.getElementById("run-form");
  const replaces = document.querySelectorAll("#run-replaces li[data-replaces]");
  if (runForm && replaces.length) {
    const show = () => {
      const key = runForm.querySelector("[name=project]").value + ":" + runForm.querySelector("[name=subset]").value;
      let found = false;
      replaces.forEach((li) => { li.hidden = li.dataset.replaces !== key; found = found || !li.hidden; });
      replaces.forEach((li) => { if (li.dataset.replaces === "none") li.hidden = found; });
    };
    runForm.addEventListener("change", show);
    show();
  }

  // Task file import, in two steps: the file is sent to be checked and what importing it
  // would do is shown (with questions to answer, or an error next to the field it is about);
  // the same file is sent again to import it only when the person confirms.
  const importForm = document.getElementById("import-form");
  if (importForm) {
    const fileInput = importForm.querySelector("input[type=file]");
    const columnInput = importForm.querySelector("[name=label_column]");
    const result = document.getElementById("import-result");
    const bar = document.getElementById("import-progress");
    const summary = document.getElementById("import-summary");
    const confirmButton = document.getElementById("import-confirm");
    const useColumn = document.getElementById("import-use-column");
    const fieldErrors = { file: document.getElementById("task-file-error"), label_column: document.getElementById("label-column-error") };
    const fieldInputs = { file: fileInput, label_column: columnInput };
    const list = (id, items) => {
      const ul = document.getElementById(id);
      ul.textContent = "";
      (items || []).forEach((text) => { const li = document.createElement("li"); li.textContent = text; ul.append(li); });
      ul.hidden = !ul.children.length;
    };
    const clearErrors = () => {
      Object.keys(fieldErrors).forEach((k) => {
        fieldErrors[k].hidden = true; fieldErrors[k].textContent = "";
        fieldInputs[k].removeAttribute("aria-invalid");
      });
    };
    const reset = () => { summary.hidden = true; clearErrors(); result.textContent = ""; };
    fileInput.addEventListener("change", reset);
    columnInput.addEventListener("input", reset);
    importForm.querySelector("[name=ground_truth]").addEventListener("change", reset);
    const upload = (commit) => {
      const file = fileInput.files[0];
      if (!file) { clearErrors(); fieldErrors.file.textContent = "Choose a file first."; fieldErrors.file.hidden = false; return; }
      const params = new URLSearchParams({ filename: file.name, commit: commit ? "1" : "0" });
      const column = columnInput.value.trim();
      if (column) params.set("label_column", column);
      if (importForm.querySelector("[name=ground_truth]").checked) params.set("ground_truth", "true");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", importForm.dataset.importUrl + "?" + params.toString());
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      clearErrors();
      bar.hidden = false; bar.value = 0;
      confirmButton.disabled = true;
      result.textContent = (commit ? "Importing " : "Checking ") + file.name + "…";
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
      xhr.onload = () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
        bar.hidden = true;
        confirmButton.disabled = false;
        if (xhr.status === 200 && body.imported) {
          summary.hidden = true;
          result.textContent = "Imported " + body.task_count + " tasks" + (body.annotation_count ? " and " + body.annotation_count + " ground-truth annotations" : "") + ". Reloading…";
          setTimeout(() => location.reload(), 600);
        } else if (xhr.status === 200) {
          result.textContent = "Checked " + file.name + ": nothing is imported until you confirm.";
          list("import-facts", body.facts);
          list("import-notes", body.notes);
          list("import-questions", body.questions);
          confirmButton.textContent = body.confirm;
          useColumn.hidden = !body.use_column;
          if (body.use_column) { useColumn.textContent = "Use column " + body.use_column + " as ground truth"; useColumn.dataset.column = body.use_column; }
          summary.hidden = false;
          summary.scrollIntoView({ block: "nearest" });
        } else {
          summary.hidden = true;
          result.textContent = "Nothing was imported.";
          const field = fieldErrors[body.field] ? body.field : "file";
          fieldErrors[field].textContent = body.message || ("The check failed (" + xhr.status + ").");
          fieldErrors[field].hidden = false;
          fieldInputs[field].setAttribute("aria-invalid", "true");
          if (body.facts && body.facts.length) { list("import-facts", body.facts); }
          fieldInputs[field].focus();
        }
      };
      xhr.onerror = () => { bar.hidden = true; confirmButton.disabled = false; result.textContent = "The upload failed: nothing was imported."; };
      xhr.send(file);
    };
    importForm.addEventListener("submit", (event) => { event.preventDefault(); upload(false); });
    confirmButton.addEventListener("click", () => upload(true));
    useColumn.addEventListener("click", () => { columnInput.value = useColumn.dataset.column; upload(false); });
  }

  // Live run progress, without reloading: the server words every counter (the same presenter
  // renders the page), and each one it sends replaces the text of the elements of the same
  // data-field, all in one go, so no counter on the page lags behind another.
  function setField(root, name, value) {
    root.querySelectorAll('[data-field="' + name + '"]').forEach((el) => {
      if (el.tagName === "PROGRESS") { el.max = value.max; el.value = value.value; return; }
      el.textContent = value;
      if (el.classList.contains("status")) el.className = "status status-" + String(value).toLowerCase();
    });
  }
  document.querySelectorAll("[data-progress]").forEach((root) => {
    const url = root.dataset.progress;
    const tick = async () => {
      const res = await fetch(url, { credentials: "same-origin" }).catch(() => null);
      // A run that is gone (replaced by a newer run): its page says where to go next.
      if (res && res.status === 404) {
        if ("reloadWhenDone" in root.dataset) location.reload(); else root.removeAttribute("data-progress");
        return;
      }
      if (!res || !res.ok) { setTimeout(tick, 3000); return; }
      const p = await res.json();
      Object.keys(p).forEach((name) => { if (typeof p[name] === "string") setField(root, name, p[name]); });
      setField(root, "bar", { max: p.total || 1, value: p.done });
      if (p.active) { setTimeout(tick, 1000); } else if ("reloadWhenDone" in root.dataset) { location.reload(); }
      else { root.removeAttribute("data-progress"); }
    };
    tick();
  });

  // Sections of running jobs reload until the job ends.
  document.querySelectorAll("[data-refresh]").forEach((el) => {
    setTimeout(() => location.reload(), parseInt(el.dataset.refresh, 10) || 2000);
  });

  // Copy buttons and confirmations.
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy).textContent;
      try { await navigator.clipboard.writeText(text); button.textContent = "Copied"; } catch (_) { button.textContent = "Select and copy"; }
    });
  });
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => { if (!confirm(form.dataset.confirm)) event.preventDefault(); });
  });

  // A region that scrolls sideways (a wide table or chart on a narrow screen, a long line of
  // code) can be reached and scrolled with the keyboard: it takes focus while it has something
  // to scroll, and only then.
  const scrollers = document.querySelectorAll(".scroll, pre.code");
  const reachable = () => scrollers.forEach((el) => {
    if (el.scrollWidth > el.clientWidth + 1) {
      if (!el.hasAttribute("tabindex")) { el.tabIndex = 0; el.dataset.scrollFocus = "1"; }
    } else if (el.dataset.scrollFocus) {
      el.removeAttribute("tabindex");
      delete el.dataset.scrollFocus;
    }
  });
  reachable();
  window.addEventListener("resize", debounce(reachable, 100));

  // Confusion matrix cells are shaded by their share (set here, not in a style attribute).
  document.querySelectorAll("[data-heat]").forEach((cell) => {
    cell.style.setProperty("--heat", parseFloat(cell.dataset.heat) || 0);
  });

  // A form is sent once: a second click (or Enter) while the first sending is on its way does
  // nothing, and its buttons show as disabled. They are disabled after the browser has
  // collected the form's fields, so the clicked button's own name and value still go along;
  // the server refuses a second sending of the same form anyway (its nonce).
  document.querySelectorAll("form[method=post]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (event.defaultPrevented) return;
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
      setTimeout(() => {
        form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]").forEach((b) => {
          b.disabled = true;
          b.setAttribute("aria-busy", "true");
        });
      }, 0);
    });
  });
  // Coming back to the page from the browser's history gives the forms back.
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-sent]").forEach((form) => {
      delete form.dataset.sent;
      form.querySelectorAll("button[aria-busy]").forEach((b) => { b.disabled = false; b.removeAttribute("aria-busy"); });
    });
  });

  // A form sent back with problems: each input with one is marked invalid and described by
  // its message (rendered next to it as "<id>-error").
  document.querySelectorAll("p.field-error[id$='-error']").forEach((message) => {
    const input = document.getElementById(message.id.slice(0, -"-error".length));
    if (!input) return;
    input.setAttribute("aria-invalid", "true");
    const described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (!described.includes(message.id)) input.setAttribute("aria-describedby", [message.id].concat(described).join(" "));
  });
  // The form that came back may be far down its page: its first problem is brought into view.
  const firstInvalid = document.querySelector("[aria-invalid='true']");
  if (firstInvalid) {
    firstInvalid.focus({ preventScroll: true });
    firstInvalid.scrollIntoView({ block: "center" });
  }
})();
