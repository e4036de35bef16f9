"""Server-rendered pages (HTMX): auth, admin and, with the quarantine issue, the user portal."""
