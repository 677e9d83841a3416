// Login form: POST /api/auth/login, then back to the page that sent us here.

import { api } from "./lib/http.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const submit = form.querySelector("button[type=submit]");

// The pages a login may send the browser on to: patterns matched against the
// whole path, from the server's one list (`NEXT_PAGES` in src/ailawyer/web/pages.py).
const nextPages = readNextPages();

function readNextPages() {
  try {
    const patterns = JSON.parse(form.dataset.nextPages || "[]");
    return patterns.map((pattern) => new RegExp(`^(?:${pattern})$`));
  } catch {
    return [];
  }
}

/**
 * `next` if it is one of our pages on this origin, else "/".
 *
 * Browsers drop tabs and newlines and read "\\" as "/" before they resolve a
 * URL, so "/\t/evil.example" would leave the site: such characters refuse the
 * value outright. What remains is resolved as the browser will, must keep our
 * origin and name a known page; the result is built from the parsed parts.
 */
function nextPath() {
  const raw = new URLSearchParams(window.location.search).get("next");
  if (!raw || !raw.startsWith("/") || raw.startsWith("//")) return "/";
  if (/[^\x21-\x7e]|\\/.test(raw)) return "/";
  let target;
  try {
    target = new URL(raw, window.location.origin);
  } catch {
    return "/";
  }
  if (target.origin !== window.location.origin) return "/";
  if (!nextPages.some((page) => page.test(target.pathname))) return "/";
  return target.pathname + target.search + target.hash;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  submit.disabled = true;
  try {
    await api("/api/auth/login", {
      method: "POST",
      body: { email: form.elements.email.value, password: form.elements.password.value },
      redirectOn401: false,
    });
    window.location.assign(nextPath());
  } catch (failure) {
    error.textContent = failure.message;
    form.elements.password.value = "";
    form.elements.password.focus();
  } finally {
    submit.disabled = false;
  }
});
