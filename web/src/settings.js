// Admin settings page: every system setting with an input of its type, grouped by
// category. Each one is saved on its own (PUT /api/settings/{key}); the server's
// refusal is shown beside the field, a success as "Gespeichert".

import { ApiError, api } from "./lib/http.js";
import { announce, h } from "./lib/dom.js";
import { wireHeader } from "./lib/header.js";

const container = document.getElementById("settings");
const status = document.getElementById("status");

/** An input for `setting` and a function that reads its value (or throws a German message). */
function control(setting, id) {
  if (setting.choices) {
    const select = h(
      "select",
      { id, name: setting.key },
      ...setting.choices.map((choice) => h("option", { value: choice, selected: choice === setting.value }, choice)),
    );
    return { input: select, read: () => select.value };
  }
  if (setting.type === "boolean") {
    const box = h("input", { id, name: setting.key, type: "checkbox", checked: setting.value === true });
    return { input: box, read: () => box.checked };
  }
  if (setting.type === "number") {
    const field = h("input", {
      id,
      name: setting.key,
      type: "number",
      inputmode: setting.integer ? "numeric" : "decimal",
      step: setting.integer ? "1" : "any",
      min: setting.minimum ?? null,
      max: setting.maximum ?? null,
      value: String(setting.value),
    });
    return {
      input: field,
      read: () => {
        const text = field.value.trim();
        const number = Number(text);
        if (text === "" || !Number.isFinite(number)) throw new Error("Bitte eine Zahl eingeben.");
        return number;
      },
    };
  }
  if (setting.type === "json") {
    const area = h("textarea", { id, name: setting.key, rows: "6", spellcheck: "false" }, JSON.stringify(setting.value, null, 2));
    return {
      input: area,
      read: () => {
        try {
          return JSON.parse(area.value);
        } catch {
          throw new Error("Kein gültiges JSON.");
        }
      },
    };
  }
  const text = h("input", { id, name: setting.key, type: "text", value: String(setting.value ?? "") });
  return { input: text, read: () => text.value };
}

function settingForm(setting) {
  const id = `setting-${setting.key.replace(/[^A-Za-z0-9_-]/g, "-")}`;
  const { input, read } = control(setting, id);
  const message = h("span", { class: "setting-message", id: `${id}-message`, role: "status" });
  input.setAttribute("aria-describedby", `${id}-message`);
  const button = h("button", { type: "submit", class: "primary" }, "Speichern");
  const form = h(
    "form",
    { class: "setting", novalidate: true, dataset: { key: setting.key } },
    h("label", { for: id }, setting.label || setting.key),
    h("code", { class: "setting-key" }, setting.key),
    h("div", { class: "setting-input" }, input, button, message),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let value;
    try {
      value = read();
    } catch (error) {
      announce(message, error.message, "error");
      input.setAttribute("aria-invalid", "true");
      return;
    }
    button.disabled = true;
    announce(message, "Speichern …");
    try {
      await api(`/api/settings/${encodeURIComponent(setting.key)}`, { method: "PUT", body: { value } });
      input.removeAttribute("aria-invalid");
      announce(message, "Gespeichert", "success");
    } catch (error) {
      input.setAttribute("aria-invalid", "true");
      announce(message, error instanceof ApiError ? error.message : String(error), "error");
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

async function main() {
  wireHeader();
  let settings;
  try {
    settings = await api("/api/settings");
  } catch (error) {
    announce(status, error instanceof ApiError ? error.message : String(error), "error");
    return;
  }
  const groups = new Map();
  for (const setting of settings) {
    if (!groups.has(setting.category)) groups.set(setting.category, { label: setting.categoryLabel, items: [] });
    groups.get(setting.category).items.push(setting);
  }
  container.replaceChildren(
    ...[...groups].map(([category, group]) =>
      h(
        "section",
        { class: "setting-group", dataset: { category }, "aria-labelledby": `category-${category}` },
        h("h2", { id: `category-${category}` }, group.label),
        ...group.items.map(settingForm),
      ),
    ),
  );
  if (settings.length === 0) container.replaceChildren(h("p", { class: "empty" }, "Keine Einstellungen."));
}

main();
