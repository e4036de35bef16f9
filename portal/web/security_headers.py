"""Security headers on every response (DESIGN.md: CSP without inline script, no framing)."""

from __future__ import annotations

from flask import Flask, Response, g, request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
# Swagger UI sets style attributes; the docs page alone allows inline styles (never inline script).
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def allow_images_from(origin: str) -> None:
    """This response may load images from `origin` (a checked https origin: the brand's logo)."""
    g.image_origins = {*g.get("image_origins", set()), origin}


def _policy() -> str:
    policy = DOCS_CSP if request.endpoint == "api.api_docs" else CSP
    origins = sorted(g.get("image_origins", ()))
    return policy.replace("img-src 'self' data:", " ".join(["img-src 'self' data:", *origins])) if origins else policy


def init_app(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", _policy())
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.endpoint != "static" and not request.path.startswith("/api/"):
            headers.setdefault("Cache-Control", "no-store")
        return response
