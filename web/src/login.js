// Login form: POST /api/auth/login, then back to the page that sent us here.

import { api } from "./lib/http.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const submit = form.querySelector("button[type=submit]");

/** Only a path on this site, never another origin ("//evil", "https://…"). */
function nextPath() {
  const next = new URLSearchParams(window.location.search).get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
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
