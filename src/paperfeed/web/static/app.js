// Progressive enhancement; every page works without it. Votes, "Not interested" and "Add to collection" post
// in place (no navigation, the reader's scroll kept); without JavaScript the same forms post
// and redirect back to the card or the paper. The CSRF token is in the form; the header
// carries it too. The list-view switch sets its cookie here instead of a round trip, and the
// header's menus close on Escape or a click elsewhere.
"use strict";

async function postInPlace(form) {
  const data = new FormData(form);
  // getAttribute, not form.action: the form's input named "action" shadows that property.
  const response = await fetch(form.getAttribute("action"), {
    method: "POST",
    headers: { "Accept": "application/json", "X-CSRF-Token": String(data.get("csrf_token")) },
    body: new URLSearchParams(data),
    credentials: "same-origin",
  });
  if (!response.ok) throw new Error(String(response.status));
  return response.json();
}

function showVote(form, result) {
  const button = form.querySelector("button");
  const count = form.querySelector(".vote-n");
  const action = form.querySelector("input[name=action]");
  if (count) count.textContent = String(result.upvotes);
  if (button) {
    button.classList.toggle("voted", result.voted);
    button.setAttribute("aria-pressed", result.voted ? "true" : "false");
  }
  if (action) action.value = result.voted ? "remove" : "add";
}

function showCollected(form, result) {
  const status = form.querySelector(".form-status");
  const select = form.querySelector("select");
  if (!status || !select) return;
  const link = document.createElement("a");
  link.href = "/collections/" + String(result.collection_id);
  link.textContent = select.options[select.selectedIndex].text;
  status.replaceChildren("Added to ", link, ".");
}

// "Not interested" and its undo: the same form flips between the two routes in place.
function showDismissed(form, result) {
  const base = form.getAttribute("data-dismiss") || "";
  const button = form.querySelector("button");
  form.setAttribute("action", result.dismissed ? base + "/undo" : base);
  if (button) {
    button.textContent = result.dismissed ? "Undo not interested" : "Not interested";
    button.setAttribute("aria-pressed", result.dismissed ? "true" : "false");
  }
  const card = form.closest(".card");
  if (card) card.classList.toggle("is-dismissed", result.dismissed);
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const show = form.hasAttribute("data-vote") ? showVote
    : form.hasAttribute("data-collect") ? showCollected
    : form.hasAttribute("data-dismiss") ? showDismissed : null;
  if (!show) return;
  event.preventDefault();
  try {
    show(form, await postInPlace(form));
  } catch (err) {
    form.submit();
  }
});

// Cards or compact rows: the same cookie /view/{mode} sets, the lists switched in place.
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a[data-view]") : null;
  if (link) {
    event.preventDefault();
    const mode = link.getAttribute("data-view");
    const secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = "pf_view=" + mode + "; Path=/; Max-Age=31536000; SameSite=Lax" + secure;
    for (const list of document.querySelectorAll("ol.cards")) {
      list.classList.toggle("compact", mode === "compact");
    }
    for (const other of document.querySelectorAll("a[data-view]")) {
      if (other.getAttribute("data-view") === mode) other.setAttribute("aria-current", "true");
      else other.removeAttribute("aria-current");
    }
    return;
  }
  // A click outside an open header menu closes it.
  for (const toggle of document.querySelectorAll(".site-header .toggle:checked")) {
    const owner = toggle.id === "user-toggle" ? toggle.closest(".user-menu") : toggle.closest(".header-row");
    if (owner && !(event.target instanceof Node && owner.contains(event.target))) toggle.checked = false;
  }
});

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const toggle of document.querySelectorAll(".site-header .toggle:checked")) toggle.checked = false;
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
