"""The domain's "send a test digest" button (its Options tab holds the digest defaults: DIGEST_FREQUENCY,
DIGEST_TIME, DIGEST_DAY, TIMEZONE). The test goes to the chosen user of the domain, marked [Test]."""

from __future__ import annotations

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext as _

from ... import ids
from ...errors import ServiceError
from ...services import digest
from ...unit_of_work import attempt
from ..session import current_principal
from .blueprint import bp
from .domains import _failed


@bp.post("/admin/domains/<domain_id>/test-digest")
def domain_test_digest(domain_id: str) -> Response:
    email = request.form.get("email", "")
    try:
        with attempt():
            user = digest.ask_test(current_principal(), ids.decode(domain_id), email)
    except ServiceError as error:
        return _failed(domain_id, "options", error, form={"test_email": email})
    flash(_("A test digest is on its way to %(email)s.", email=user.email), "success")
    return redirect(url_for("admin.domain_tab", domain_id=domain_id, tab="options"))
