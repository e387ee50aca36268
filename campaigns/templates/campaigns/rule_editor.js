// The segment rule editor: AND/OR groups of conditions as selects and inputs, written into the rules textarea as
// JSON (what the server validates and stores), with a live count from the preview endpoint. Plain DOM, no library.
(function () {
  "use strict";
  const FIELDS = window.SEGMENT_RULE_FIELDS, CMPS = window.SEGMENT_RULE_CMPS;
  const CHANNELS = window.SEGMENT_RULE_CHANNELS, T = window.SEGMENT_TEXT;
  document.addEventListener("DOMContentLoaded", function () {
    const root = document.getElementById("rule-editor");
    const textarea = document.querySelector("textarea.segment-rules-json");
    if (!root || !textarea) return;
    let rules;
    try { rules = JSON.parse(textarea.value || "{}"); } catch (e) { rules = {}; }
    if (!rules.rules) rules = {op: "and", rules: []};
    if (!rules.rules.length) rules.rules.push(newCondition());
    let timer = null;

    function newCondition() {
      const field = Object.keys(FIELDS)[0];
      return {field: field, cmp: FIELDS[field].cmps[0], value: ""};
    }
    function el(tag, attrs, children) {
      const node = document.createElement(tag);
      Object.entries(attrs || {}).forEach(([k, v]) => {
        if (k === "text") node.textContent = v; else node.setAttribute(k, v);
      });
      (children || []).forEach((c) => node.appendChild(c));
      return node;
    }
    function select(options, value, onChange, cls) {
      const s = el("select", {class: cls});
      options.forEach(([v, label]) => {
        const o = el("option", {value: v, text: label});
        if (String(v) === String(value)) o.selected = true;
        s.appendChild(o);
      });
      s.addEventListener("change", () => onChange(s.value));
      return s;
    }
    function valueInput(cond) {
      const kind = FIELDS[cond.field].kind;
      if (kind === "channel" || kind === "anychannel") {
        if (!CHANNELS[kind].includes(cond.value)) cond.value = CHANNELS[kind][0];
        return select(CHANNELS[kind].map((c) => [c, c]), cond.value, (v) => { cond.value = v; changed(); }, "rule-value");
      }
      const numeric = ["score", "int", "days", "money"].includes(kind);
      const input = el("input", {class: "rule-value", type: numeric ? "number" : "text", value: cond.value ?? ""});
      if (kind === "money") input.step = "0.01";
      input.addEventListener("input", () => { cond.value = numeric && kind !== "money" && input.value !== "" ? Number(input.value) : input.value; changed(); });
      return input;
    }
    function renderGroup(group, parent, depth) {
      const box = el("div", {class: "rule-group"});
      box.appendChild(select([["and", T.all], ["or", T.any]], group.op, (v) => { group.op = v; changed(); }, "rule-op"));
      group.rules.forEach((item, index) => {
        const removeBtn = el("button", {type: "button", class: "rule-remove", text: "✕", title: T.remove});
        removeBtn.addEventListener("click", () => { group.rules.splice(index, 1); if (!group.rules.length && parent) parent.rules.splice(parent.rules.indexOf(group), 1); render(); });
        if (item.rules) {
          const sub = renderGroup(item, group, depth + 1);
          sub.appendChild(removeBtn);
          box.appendChild(sub);
          return;
        }
        const row = el("div", {class: "rule-row"});
        row.appendChild(select(Object.entries(FIELDS).map(([k, f]) => [k, f.label]), item.field, (v) => {
          item.field = v; item.cmp = FIELDS[v].cmps[0]; item.value = ""; render();
        }, "rule-field"));
        row.appendChild(select(FIELDS[item.field].cmps.map((c) => [c, CMPS[c]]), item.cmp, (v) => { item.cmp = v; changed(); }, "rule-cmp"));
        row.appendChild(valueInput(item));
        row.appendChild(removeBtn);
        box.appendChild(row);
      });
      const add = el("button", {type: "button", class: "rule-add", text: "+ " + T.addCondition});
      add.addEventListener("click", () => { group.rules.push(newCondition()); render(); });
      box.appendChild(add);
      if (depth < 3) {
        const addGroup = el("button", {type: "button", class: "rule-add-group", text: "+ " + T.addGroup});
        addGroup.addEventListener("click", () => { group.rules.push({op: "or", rules: [newCondition()]}); render(); });
        box.appendChild(addGroup);
      }
      return box;
    }
    function render() {
      root.innerHTML = "";
      root.appendChild(renderGroup(rules, null, 1));
      changed();
    }
    function changed() {
      textarea.value = JSON.stringify(rules);
      clearTimeout(timer);
      timer = setTimeout(preview, 300);
    }
    function preview() {
      const url = root.dataset.previewUrl + "?rules=" + encodeURIComponent(textarea.value);
      fetch(url, {credentials: "same-origin"}).then((r) => r.json().then((body) => [r.ok, body])).then(([ok, body]) => {
        const errors = document.getElementById("segment-errors");
        if (!ok) {
          errors.hidden = false;
          errors.textContent = (body.errors || []).map((e) => e.field + ": " + e.message).join("; ");
          document.getElementById("segment-count").textContent = "–";
          return;
        }
        errors.hidden = true;
        document.getElementById("segment-count").textContent = body.count;
        document.getElementById("segment-sample").textContent = (body.sample || []).map(
          (s) => [s.language, s.acquisition_channel, "RFM " + s.rfm, s.value_band].join(" · ")).join(" | ");
      });
    }
    render();
  });
})();
