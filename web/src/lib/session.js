// The page header's "Abmelden" button, shared by every signed-in page.

import { api } from "./http.js";

export function wireLogout() {
  const button = document.getElementById("logout");
  if (!button) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("/api/auth/logout", { method: "POST", redirectOn401: false });
    } catch {
      // Logged out already, or the server is gone: the login page is right either way.
    }
    window.location.assign("/login");
  });
}
