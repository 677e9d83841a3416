// A confirm step for destructive actions, on a native <dialog> (focus trap,
// Escape to cancel), so it is keyboard and screen-reader friendly.

/**
 * Resolves true when the user confirms. Expects the page to contain
 * <dialog id="confirm-dialog"> with #confirm-message, #confirm-ok, #confirm-cancel.
 */
export function confirmAction(message, confirmLabel = "Bestätigen") {
  const dialog = document.getElementById("confirm-dialog");
  const text = document.getElementById("confirm-message");
  const ok = document.getElementById("confirm-ok");
  const cancel = document.getElementById("confirm-cancel");
  text.textContent = message;
  ok.textContent = confirmLabel;
  return new Promise((resolve) => {
    const finish = (result) => {
      ok.removeEventListener("click", onOk);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      resolve(result);
    };
    const onOk = () => finish(true);
    const onCancel = (event) => {
      event.preventDefault();
      finish(false);
    };
    ok.addEventListener("click", onOk);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    cancel.focus();
  });
}
