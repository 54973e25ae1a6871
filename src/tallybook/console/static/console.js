// The console's only script (no inline script: the pages' Content-Security-Policy forbids it).
// Everything works without it; it adds confirmations before deleting, reloading parts of
// a page (the current period, an export's progress) and copying the explorer's query.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  for (const box of document.querySelectorAll("[data-refresh]")) {
    const seconds = Number(box.dataset.interval || "60");
    const reload = async () => {
      try {
        const response = await fetch(box.dataset.refresh, {credentials: "same-origin"});
        if (response.ok) {
          box.innerHTML = await response.text();
          if (box.querySelector("[data-done]")) return; // finished: stop asking
        }
      } catch (error) {
        // offline for a moment: try again at the next tick
      }
      window.setTimeout(reload, seconds * 1000);
    };
    window.setTimeout(reload, seconds * 1000);
  }
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      try {
        await navigator.clipboard.writeText(source.textContent);
        button.textContent = "Copied";
      } catch (error) {
        window.getSelection().selectAllChildren(source);
      }
    });
  }
});
