// Postern's few behaviours; a file, because the CSP forbids inline script.

// A "select all" checkbox: data-select-all="<name of the checkboxes it drives in its form>".
document.addEventListener("change", (event) => {
  const master = event.target.closest("[data-select-all]");
  if (!master || !master.form) return;
  for (const box of master.form.querySelectorAll(`input[type=checkbox][name="${master.dataset.selectAll}"]`)) {
    box.checked = master.checked;
  }
});

// A button that asks first: data-confirm="<question>".
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
    event.stopPropagation();
  }
}, true);

// Upload progress: a form with data-progress="<selector of a <progress>>" sent by HTMX.
document.addEventListener("htmx:xhr:progress", (event) => {
  const selector = event.target.dataset && event.target.dataset.progress;
  const bar = selector && document.querySelector(selector);
  if (!bar || !event.detail.lengthComputable) return;
  bar.hidden = false;
  bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
});
document.addEventListener("htmx:afterRequest", (event) => {
  const selector = event.target.dataset && event.target.dataset.progress;
  const bar = selector && document.querySelector(selector);
  if (bar) bar.hidden = true;
  if (event.target.matches && event.target.matches("form[data-reset-after]")) event.target.reset();
});

// The brand's stylesheet follows a boosted navigation (hx-boost swaps the body, not <head>): signing out, or in.
document.addEventListener("htmx:beforeSwap", (event) => {
  const current = document.getElementById("brand-css");
  if (!event.detail.boosted || !current || !event.detail.xhr) return;
  const next = new DOMParser().parseFromString(event.detail.xhr.responseText, "text/html").getElementById("brand-css");
  if (next && next.getAttribute("href") !== current.getAttribute("href")) current.setAttribute("href", next.getAttribute("href"));
});

// --- The application shell -------------------------------------------------------------------------------

document.documentElement.classList.add("js");

// The sidebar behind the menu button on phones (without JS the sidebar simply stays open above the page).
function wireMenuButton() {
  const button = document.querySelector(".menu-button");
  const sidebar = button && document.getElementById(button.getAttribute("aria-controls"));
  if (!button || !sidebar) return;
  button.hidden = false;
  button.setAttribute("aria-expanded", String(sidebar.classList.contains("open")));
}
document.addEventListener("click", (event) => {
  const button = event.target.closest(".menu-button");
  if (button) {
    const sidebar = document.getElementById(button.getAttribute("aria-controls"));
    const open = sidebar.classList.toggle("open");
    button.setAttribute("aria-expanded", String(open));
    if (open) {
      const first = sidebar.querySelector("a");
      if (first) first.focus();
    }
    return;
  }
  // A click outside an open dropdown (the account menu) closes it.
  for (const menu of document.querySelectorAll("details.dropdown[open]")) {
    if (!menu.contains(event.target)) menu.open = false;
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const menu of document.querySelectorAll("details.dropdown[open]")) {
    menu.open = false;
    menu.querySelector("summary").focus();
  }
  const button = document.querySelector(".menu-button[aria-expanded=true]");
  if (button && window.matchMedia("(max-width: 767.98px)").matches) button.click();
});

// The one live region (#announce, kept across swaps): what a page or a swapped part marks is said politely.
// A server part marks its text with data-announce (its value, or else its text); flashes and list totals count too.
function announce(text) {
  const region = document.getElementById("announce");
  if (!region || !text) return;
  region.textContent = "";
  window.setTimeout(() => { region.textContent = text.trim(); }, 50);
}
function announcements(root, wholePage) {
  const marked = root.querySelectorAll("[data-announce]");
  const found = marked.length ? marked
    : root.querySelectorAll(wholePage ? ".flash, .form-error" : ".flash, .form-error, .field-error, [id$='-total']");
  return Array.from(found, (el) => el.dataset.announce || el.textContent.trim()).filter(Boolean).join(" ");
}
// An HX-Trigger header may announce too: HX-Trigger: {"announce": "…"}.
document.addEventListener("announce", (event) => announce(event.detail && event.detail.value));

// After a swap, focus goes to the news (a status message) or to the updated part, not to the top of the page,
// unless the person is still in a field outside it (typing in a search box, choosing in a select).
function focusAfterSwap(target, boosted) {
  const active = document.activeElement;
  if (!boosted && active && active !== document.body && active.isConnected && !target.contains(active)) return;
  const news = target.querySelector(".flash, [data-announce]");
  const invalid = target.querySelector("[aria-invalid=true]");
  const goal = invalid || news || (boosted ? document.getElementById("main") : target);
  if (!goal) return;
  if (!goal.matches("a, button, input, select, textarea, [tabindex]")) goal.setAttribute("tabindex", "-1");
  goal.focus({ preventScroll: !boosted && !invalid && !news });
}

document.addEventListener("htmx:beforeSwap", (event) => {
  // A boosted page brings its own <html lang> (HTMX swaps only the body): follow it.
  if (!event.detail.boosted || !event.detail.xhr) return;
  const match = /<html[^>]*\slang="([^"]+)"/i.exec(event.detail.xhr.responseText || "");
  if (match) document.documentElement.lang = match[1];
});
document.addEventListener("htmx:afterSettle", (event) => {
  const target = event.detail.target || event.target;
  const boosted = Boolean(event.detail.boosted) || target === document.body;
  wireMenuButton();
  focusAfterSwap(target, boosted);
  announce(boosted ? announcements(document.getElementById("main") || target, true) : announcements(target, false));
});
// The language form reloads the whole page (so that <html lang> follows): the new page then starts at its
// content and says which language it is in, instead of leaving the person at the top.
document.addEventListener("submit", (event) => {
  if (event.target.matches(".lang-switch")) sessionStorage.setItem("postern-language-switched", "1");
});
document.addEventListener("DOMContentLoaded", () => {
  wireMenuButton();
  const main = document.getElementById("main");
  if (!main) return;
  const switched = sessionStorage.getItem("postern-language-switched");
  sessionStorage.removeItem("postern-language-switched");
  const flash = main.querySelector(".flash");
  if (flash) flash.focus();
  else if (switched) main.focus();
  const chosen = switched && document.querySelector(".lang-switch select option:checked");
  announce([chosen ? chosen.textContent : "", announcements(main, true)].join(" ").trim());
});

// Fieldsets that apply to some choices only: data-show-when="<select name>=<value>[,<value>]" (several
// conditions joined by ";" must all hold). Hidden ones keep their inputs; the server ignores what does not apply.
function applyShowWhen(root) {
  for (const part of root.querySelectorAll("[data-show-when]")) {
    const form = part.closest("form");
    if (!form) continue;
    part.hidden = !part.dataset.showWhen.split(";").every((condition) => {
      const [name, values] = condition.split("=");
      const input = form.elements[name];
      return !input || values.split(",").includes(input.value);
    });
  }
}
document.addEventListener("change", (event) => {
  if (event.target.matches && event.target.matches("select") && event.target.form
      && event.target.form.querySelector("[data-show-when]")) applyShowWhen(event.target.form);
});
document.addEventListener("DOMContentLoaded", () => applyShowWhen(document));
document.addEventListener("htmx:afterSettle", () => applyShowWhen(document));

// A copy button: data-copy="<selector of the element whose text it copies>", data-copied="<word said and shown
// a moment after>". The text is selected too: without a clipboard (plain http) it is ready for Ctrl+C.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  const source = button && document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = source.textContent.trim();
  selectText(source);
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => {
      const label = button.textContent;
      announce(button.dataset.copied || "");
      if (button.dataset.copied) {
        button.textContent = button.dataset.copied;
        setTimeout(() => { button.textContent = label; }, 1500);
      }
    }, () => {});
  }
});
function selectText(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

// A self-refreshing part that waits while the user selects: data-pause-when-checked="<selector>" skips a poll
// while anything matches (the selection would be lost by the swap).
document.addEventListener("htmx:beforeRequest", (event) => {
  const part = event.target.closest && event.target.closest("[data-pause-when-checked]");
  if (part && event.detail.requestConfig && event.detail.requestConfig.verb === "get"
      && document.querySelector(part.dataset.pauseWhenChecked)) event.preventDefault();
});
