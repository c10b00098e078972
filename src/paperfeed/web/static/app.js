// Progressive enhancement: upvote without reloading the page. Without JavaScript the same
// forms post and redirect back. The CSRF token is in the form; the header carries it too.
"use strict";
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-vote")) return;
  event.preventDefault();
  const data = new FormData(form);
  try {
    // getAttribute, not form.action: the form's input named "action" shadows that property.
    const response = await fetch(form.getAttribute("action"), {
      method: "POST",
      headers: { "Accept": "application/json", "X-CSRF-Token": String(data.get("csrf_token")) },
      body: new URLSearchParams(data),
      credentials: "same-origin",
    });
    if (!response.ok) { form.submit(); return; }
    const result = await response.json();
    const button = form.querySelector("button");
    const count = form.querySelector(".vote-n");
    const action = form.querySelector("input[name=action]");
    if (count) count.textContent = String(result.upvotes);
    if (button) {
      button.classList.toggle("voted", result.voted);
      button.setAttribute("aria-pressed", result.voted ? "true" : "false");
    }
    if (action) action.value = result.voted ? "remove" : "add";
  } catch (err) {
    form.submit();
  }
});

// === Copy buttons (issue 17, helper "paper") ===
// A button with data-copy="ID" copies the text of the element with that id (the paper page's
// BibTeX). It is hidden in the markup and shown here, so a page without JavaScript offers
// only what works there (the text itself and the .bib download).
document.querySelectorAll("button[data-copy]").forEach((button) => {
  const source = document.getElementById(button.getAttribute("data-copy") || "");
  if (!source) return;
  const label = button.textContent;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source.textContent || "");
      button.textContent = "Copied";
    } catch (err) {
      // No clipboard (an insecure origin, a refusal): select the text for Ctrl+C instead.
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      if (selection) { selection.removeAllRanges(); selection.addRange(range); }
      button.textContent = "Selected: press Ctrl+C";
    }
    setTimeout(() => { button.textContent = label; }, 2000);
  });
});
