// The page header shared by every signed-in page: "Abmelden", and on a phone
// the navigation folded behind "Menü". Without this script the links simply
// stay visible; with it, a narrow screen shows them on demand.

import { wireLogout } from "./session.js";

function wireMenu() {
  const toggle = document.getElementById("nav-toggle");
  const nav = document.getElementById("main-nav");
  // Two links fit a phone's line; only a longer navigation folds.
  if (!toggle || !nav || nav.querySelectorAll("a").length < 3) return;
  const setOpen = (open) => {
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  };
  toggle.hidden = false;
  document.body.classList.add("nav-foldable");
  toggle.addEventListener("click", () => setOpen(toggle.getAttribute("aria-expanded") !== "true"));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && nav.classList.contains("open")) {
      setOpen(false);
      toggle.focus();
    }
  });
}

export function wireHeader() {
  wireLogout();
  wireMenu();
}
