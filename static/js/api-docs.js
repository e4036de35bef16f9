// Renders /api/openapi.json with Swagger UI (loaded from static/vendor, no inline script).
// deepLinking stays off: it puts a link inside each operation's toggle button (nested interactive controls);
// the servers list gets the accessible name Swagger UI does not give it.
window.addEventListener("DOMContentLoaded", function () {
  var node = document.getElementById("swagger-ui");
  function nameTheServers() {
    var servers = document.getElementById("servers");
    if (servers && !servers.hasAttribute("aria-label")) {
      servers.setAttribute("aria-label", "Servers");
    }
  }
  new MutationObserver(nameTheServers).observe(node, { childList: true, subtree: true });
  window.SwaggerUIBundle({ url: node.dataset.specUrl, domNode: node, deepLinking: false });
});
