/* bel book: the diversity explorer replayed in the page, with no kernel.

   Every `<div class="bel-replay">` (the `explorer-replay` directive, docs/_ext/bel_book.py)
   becomes a small panel: controls for the task, the members, the init, the std of r and s and
   the view (at initialisation / after training), a picture painted on a <canvas>, and the
   diversity numbers. Nothing is computed here: the numbers and the pictures are read from
   explorer-grid.json (beside this script), which `make explorer-grid` computes with
   bel.explorer.model, the live explorer's own model. Pictures are stored as uint8 (base64) with
   the range they cover and painted with the explorer figure's own colour maps (256 levels). */
(() => {
  "use strict";
  const GRID_URL = new URL("explorer-grid.json", document.currentScript.src).href;
  let loading = null;
  const loadGrid = () =>
    (loading ??= fetch(GRID_URL).then((response) => {
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      return response.json();
    }));

  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const value = (byte, [low, high]) => low + (byte / 255) * (high - low);
  const INIT_LABELS = { normal: "normal N(1, std²)", random_sign: "random signs ±1" };
  const VIEW_LABELS = { init: "at initialisation", trained: "after training" };
  let counter = 0;

  function element(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    for (const [name, val] of Object.entries(attrs)) {
      if (name === "text") node.textContent = val;
      else node.setAttribute(name, val);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function radios(name, options, checked) {
    const box = element("span", { class: "bel-replay-choices", role: "radiogroup" });
    for (const [val, label] of options) {
      const id = `${name}-${val}`;
      const input = element("input", { type: "radio", name, id, value: val });
      input.checked = val === checked;
      box.append(element("label", { for: id }, [input, ` ${label}`]));
    }
    return box;
  }

  function control(label, input, extra) {
    const row = element("div", { class: "bel-replay-control" });
    row.append(element("span", { class: "bel-replay-label", text: label }), input);
    if (extra) row.append(extra);
    return row;
  }

  function mount(root, grid) {
    const uid = `bel-replay-${++counter}`;
    const compact = root.dataset.size === "small";
    const g = grid.grid;
    const state = {
      task: g.task[0],
      members: 4,
      init: "normal",
      std: g.std.indexOf(0.5) >= 0 ? g.std.indexOf(0.5) : 0,
      view: "init",
    };

    const task = element("select", { name: `${uid}-task`, "aria-label": "task" });
    for (const name of g.task) {
      const option = element("option", { value: name, text: grid.tasks[name].label });
      task.append(option);
    }
    const members = element("input", {
      type: "range", min: "1", max: String(g.members.length), step: "1",
      value: String(state.members), name: `${uid}-members`, "aria-label": "members",
    });
    const membersOut = element("output", { class: "bel-replay-value" });
    const std = element("input", {
      type: "range", min: "0", max: String(g.std.length - 1), step: "1",
      value: String(state.std), name: `${uid}-std`, "aria-label": "std of r and s",
    });
    const stdOut = element("output", { class: "bel-replay-value" });
    const init = radios(`${uid}-init`, g.init.map((i) => [i, INIT_LABELS[i] ?? i]), state.init);
    const view = radios(
      `${uid}-view`,
      g.view.map((v) => [v, v === "trained" ? `${VIEW_LABELS[v]} (${grid.steps} steps)` : VIEW_LABELS[v]]),
      state.view,
    );
    const controls = element("div", { class: "bel-replay-controls" }, [
      control("task", task),
      control("members E", members, membersOut),
      control("init", init),
      control("r, s std", std, stdOut),
      control("view", view),
    ]);
    const canvas = element("canvas", { class: "bel-replay-canvas", role: "img" });
    const caption = element("p", { class: "bel-replay-caption" });
    const table = element("table", { class: "bel-replay-numbers" });
    root.replaceChildren(controls, canvas, caption);
    if (!compact) root.append(table);

    const read = () => {
      state.task = task.value;
      state.members = Number(members.value);
      state.std = Number(std.value);
      state.init = root.querySelector(`input[name="${uid}-init"]:checked`).value;
      state.view = root.querySelector(`input[name="${uid}-view"]:checked`).value;
    };
    const key = (view) => {
      const s = state.init === "normal" ? g.std[state.std] : g.std[0];
      return [state.task, state.init, String(s), view, state.members].join("|");
    };
    const draw = () => {
      read();
      const normal = state.init === "normal";
      std.disabled = !normal;
      membersOut.textContent = String(state.members);
      stdOut.textContent = normal ? String(g.std[state.std]) : "(not used)";
      const shown = grid.states[key(state.view)];
      const info = grid.tasks[state.task];
      paint(canvas, grid, info, shown, state.members);
      const what = `E = ${state.members}, init ${INIT_LABELS[state.init]}` +
        (normal ? `, std ${g.std[state.std]}` : "") + `, ${VIEW_LABELS[state.view]}`;
      canvas.setAttribute("aria-label", `explorer picture: ${what}`);
      caption.textContent = `Shown: ${info.label}; ${what}.`;
      numbers(table, info, grid.states[key("init")], grid.states[key("trained")], state.view);
    };
    controls.addEventListener("input", draw);
    controls.addEventListener("change", draw);
    let drawnWidth = root.clientWidth;
    new ResizeObserver(() => {
      if (root.clientWidth !== drawnWidth) {
        drawnWidth = root.clientWidth;
        draw();
      }
    }).observe(root);
    draw();
  }

  function numbers(table, info, atInit, trained, view) {
    const head = element("tr", {}, [
      element("th", { text: "number" }),
      element("th", { text: "at initialisation", class: view === "init" ? "shown" : "" }),
      element("th", { text: "after training", class: view === "trained" ? "shown" : "" }),
    ]);
    const rows = [head];
    for (const [name, label, [low, high]] of info.metrics) {
      const cells = [atInit, trained].map((s, i) => {
        const v = s.numbers[name];
        const share = Math.max(0, Math.min(1, (v - low) / (high - low)));
        const bar = element("span", { class: "bel-replay-bar" });
        bar.style.width = `${(100 * share).toFixed(1)}%`;
        const cls = (i === 0) === (view === "init") ? "shown" : "";
        return element("td", { class: cls }, [element("span", { text: v.toFixed(3) }), bar]);
      });
      rows.push(element("tr", {}, [element("th", { text: label, scope: "row" }), ...cells]));
    }
    table.replaceChildren(...rows);
  }

  // -- the picture -------------------------------------------------------------------------------

  function paint(canvas, grid, info, shown, members) {
    const width = Math.max(240, canvas.parentElement.clientWidth);
    const max = grid.grid.members.length;
    const gap = Math.max(3, Math.round(width / 160));
    const font = 12;
    const title = font + 6;
    const col = (width - (max - 1) * gap) / max;
    const rowH = info.classify ? col : col * 0.8;
    const stacked = width < 520; // a phone: the two ensemble panels one above the other
    const panelW = stacked ? width : (width - 3 * gap) / 2;
    const panelH = panelW * (stacked ? 0.7 : 0.85);
    const below = title + panelH + gap * 3; // from one panel's title to the next one's
    const height = Math.round(title + rowH + gap * 3 + below * (stacked ? 2 : 1));
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, width, height);
    ctx.font = `${font}px system-ui, sans-serif`;
    ctx.fillStyle = "#222";
    ctx.textBaseline = "top";
    const outputs = bytes(shown.outputs);
    const per = outputs.length / members;
    ctx.fillText(
      info.classify ? "each member's p(class 1)" : "each member's prediction y(x)", 0, 2,
    );
    for (let m = 0; m < max; m++) {
      const box = [m * (col + gap), title, col, rowH];
      if (m >= members) {
        ctx.strokeStyle = "#e4e4e4";
        ctx.strokeRect(box[0] + 0.5, box[1] + 0.5, box[2] - 1, box[3] - 1);
        continue;
      }
      const slice = outputs.subarray(m * per, (m + 1) * per);
      if (info.classify) map(ctx, box, slice, info.grid_shape, grid.colors.probability, false);
      else lines(ctx, box, info, [[slice, grid.colors.members[m % grid.colors.members.length], 1.5]]);
      frame(ctx, box);
    }
    const y = title + rowH + gap * 3;
    const left = [0, y + title, panelW, panelH];
    const right = stacked
      ? [0, y + below + title, panelW, panelH]
      : [panelW + 3 * gap, y + title, panelW, panelH];
    const rightTitle = right[1] - title + 2;
    ctx.fillStyle = "#222";
    const uncertainty = bytes(shown.uncertainty);
    const mean = bytes(shown.mean);
    if (info.classify) {
      ctx.fillText("ensemble: mean p(class 1)", left[0], y + 2);
      ctx.fillText("where members disagree (mutual information)", right[0], rightTitle);
      map(ctx, left, mean, info.grid_shape, grid.colors.probability, true);
      dots(ctx, left, info, (label) => grid.colors.classes[label], 3);
      map(ctx, right, uncertainty, info.grid_shape, grid.colors.uncertainty, true);
      dots(ctx, right, info, () => "#bfbfbf", 2);
    } else {
      ctx.fillText("ensemble: members, mean ± 2 std", left[0], y + 2);
      ctx.fillText("spread: std of the members", right[0], rightTitle);
      const series = [];
      for (let m = 0; m < members; m++) {
        series.push([outputs.subarray(m * per, (m + 1) * per),
          grid.colors.members[m % grid.colors.members.length], 0.9]);
      }
      lines(ctx, left, info, [...series, [mean, "#000000", 2.2]], info.ranges.outputs,
        () => band(ctx, left, info, mean, uncertainty));
      lines(ctx, right, info, [[uncertainty, "#CC79A7", 2]], info.ranges.uncertainty);
    }
    frame(ctx, left);
    frame(ctx, right);
  }

  function frame(ctx, [x, y, w, h]) {
    ctx.strokeStyle = "#444";
    ctx.lineWidth = 1;
    ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
  }

  function map(ctx, [x, y, w, h], values, [rows, cols], lut, smooth) {
    const image = new ImageData(cols, rows);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const hex = lut[values[r * cols + c]];
        const at = ((rows - 1 - r) * cols + c) * 4; // row 0 is the lowest y: paint it at the bottom
        image.data[at] = parseInt(hex.slice(1, 3), 16);
        image.data[at + 1] = parseInt(hex.slice(3, 5), 16);
        image.data[at + 2] = parseInt(hex.slice(5, 7), 16);
        image.data[at + 3] = 255;
      }
    }
    const small = document.createElement("canvas");
    small.width = cols;
    small.height = rows;
    small.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = smooth;
    ctx.drawImage(small, x, y, w, h);
  }

  const scaleX = (info, [x, , w]) => {
    const [x0, x1] = info.bounds;
    return (v) => x + ((v - x0) / (x1 - x0)) * w;
  };
  const scaleY = ([low, high], [, y, , h]) => (v) => y + h - ((v - low) / (high - low)) * h;

  function dots(ctx, box, info, color, radius) {
    const sx = scaleX(info, box);
    const sy = scaleY(info.bounds.slice(2), box);
    for (let i = 0; i < info.x.length; i++) {
      ctx.beginPath();
      ctx.arc(sx(info.x[i][0]), sy(info.x[i][1]), radius, 0, 2 * Math.PI);
      ctx.fillStyle = color(info.y[i]);
      ctx.fill();
      ctx.strokeStyle = "#1a1a1a";
      ctx.lineWidth = 0.5;
      ctx.stroke();
    }
  }

  function shade(ctx, box, info) {
    const sx = scaleX(info, box);
    const [x, y, , h] = box;
    ctx.fillStyle = "#ececec"; // beyond the data
    ctx.fillRect(x, y, sx(-1) - x, h);
    ctx.fillRect(sx(1), y, box[0] + box[2] - sx(1), h);
    ctx.fillStyle = "#fbeecb"; // the gap inside the data
    ctx.fillRect(sx(info.gap[0]), y, sx(info.gap[1]) - sx(info.gap[0]), h);
  }

  function lines(ctx, box, info, series, range = info.ranges.outputs, underlay = null) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(...box);
    ctx.clip();
    shade(ctx, box, info);
    if (underlay) underlay();
    const sx = scaleX(info, box);
    const sy = scaleY(range, box);
    if (range === info.ranges.outputs) { // the data, as grey dots
      ctx.fillStyle = "#8c8c8c";
      for (let i = 0; i < info.x.length; i++) {
        ctx.fillRect(sx(info.x[i][0]) - 1, sy(info.y[i]) - 1, 2, 2);
      }
    }
    for (const [values, color, width] of series) {
      ctx.beginPath();
      values.forEach((byte, i) => {
        const px = sx(info.line[i]);
        const py = sy(value(byte, range));
        if (i) ctx.lineTo(px, py);
        else ctx.moveTo(px, py);
      });
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.stroke();
    }
    ctx.restore();
  }

  function band(ctx, box, info, mean, spread) {
    const sx = scaleX(info, box);
    const sy = scaleY(info.ranges.outputs, box);
    const m = (i) => value(mean[i], info.ranges.outputs);
    const s = (i) => value(spread[i], info.ranges.uncertainty);
    ctx.beginPath();
    info.line.forEach((v, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, sx(v), sy(m(i) + 2 * s(i))));
    for (let i = info.line.length - 1; i >= 0; i--) ctx.lineTo(sx(info.line[i]), sy(m(i) - 2 * s(i)));
    ctx.closePath();
    ctx.fillStyle = "rgba(150, 150, 150, 0.45)";
    ctx.fill();
  }

  function start() {
    for (const root of document.querySelectorAll(".bel-replay")) {
      loadGrid()
        .then((grid) => mount(root, grid))
        .catch((error) => {
          root.textContent = `The replay could not load its results (${error.message}).`;
        });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
