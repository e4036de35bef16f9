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
