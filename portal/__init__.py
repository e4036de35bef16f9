"""Postern: the management plane of an anti-spam / anti-virus mail gateway."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from . import config as config_module
from .extensions import babel, csrf, db, htmx, limiter, login_manager, migrate, setup_engine_events


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(config_module.ROOT / "templates"),
        static_folder=str(config_module.ROOT / "static"),
        instance_path=str(config_module.ROOT / "instance"),
    )
    app.config.update(config_module.load(config))
    app.json.sort_keys = False  # type: ignore[attr-defined]  (keep the seed's field order)
    if app.config.get("PROXY_HOPS"):  # the client's address from X-Forwarded-For, only behind that many proxies
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["PROXY_HOPS"]))  # type: ignore[method-assign]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from . import models  # noqa: F401 (the metadata Alembic compares)

    db.init_app(app)
    with app.app_context():
        setup_engine_events()
    migrate.init_app(app, db, directory=str(config_module.ROOT / "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    from .web import branding, i18n, security_headers, session, templating

    babel.init_app(app, locale_selector=i18n.select_locale)
    session.init_app(app)
    security_headers.init_app(app)
    templating.init_app(app)
    branding.init_app(app)

    from .api import bp as api_bp
    from .web.admin import bp as admin_bp
    from .web.auth import bp as auth_bp
    from .web.user import bp as user_bp

    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(user_bp)
    from .web import digest_links

    digest_links.init_app(app)

    from . import cli, error_pages, jobs, request_limits, schema_check, unit_of_work
    from .integrations import mailstore

    mailstore.POOL.size = max(int(app.config["IMAP_POOL_SIZE"]), 0)

    error_pages.init_app(app)
    schema_check.init_app(app)
    cli.init_app(app)
    jobs.init_app(app)
    unit_of_work.init_app(app)  # last: its commit runs before the other after_request hooks (job dispatch)
    request_limits.init_app(app)  # outermost: too long a URL or header block is refused before anything runs
    return app
