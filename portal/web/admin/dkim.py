"""The domain's DKIM tab: its forms (the tab itself renders with the domain page, `domains.TAB_NEEDS`).

Generate and delete are for system administrators (as the API's seed routes); prepare a rotation, check DNS
and cancel need DKIM_EDIT. The rules are the service's (`portal/services/dkim.py`); a refusal shows the tab
again with the message next to its field, and nothing it wrote is left (`attempt()`)."""

from __future__ import annotations

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext as _

from ... import ids
from ...errors import Conflict, NotFound, ServiceError, Unavailable
from ...permissions import Permission
from ...services import dkim
from ...unit_of_work import attempt
from ..session import current_principal
from .blueprint import bp
from .domains import _after, _domain, _failed

TAB = "dkim"


@bp.post("/admin/domains/<domain_id>/dkim/generate")
def dkim_generate(domain_id: str) -> Response:
    try:
        with attempt():
            dkim.create(current_principal(), ids.decode(domain_id))
    except ServiceError as error:
        return _failed(domain_id, TAB, error, form={})
    return _after(domain_id, TAB, _("A DKIM key was generated: publish its records in DNS."))


@bp.post("/admin/domains/<domain_id>/dkim/delete")
def dkim_delete(domain_id: str) -> Response:
    try:
        with attempt():
            dkim.remove(current_principal(), ids.decode(domain_id))
    except ServiceError as error:
        return _failed(domain_id, TAB, error, form={})
    return _after(domain_id, TAB, _("The DKIM keys were deleted: the domain's mail is no longer signed."))


@bp.post("/admin/domains/<domain_id>/dkim/rotation")
def dkim_rotate(domain_id: str) -> Response:
    selector = request.form.get("selector", "")
    try:
        with attempt():
            dkim.start_rotation(current_principal(), ids.decode(domain_id), selector)
    except ServiceError as error:
        return _failed(domain_id, TAB, error, form={"selector": selector})
    return _after(domain_id, TAB, _("A new key is ready under the selector %(selector)s: publish its records, "
                                    "then check DNS.", selector=selector.lower()))


@bp.post("/admin/domains/<domain_id>/dkim/rotation/check")
def dkim_check(domain_id: str) -> Response:
    """Check DNS now: the answer is flashed on the tab (a DNS outage too, with nothing changed)."""
    domain = _domain(domain_id, Permission.DKIM_EDIT)  # 404 unless in sight, 403 without DKIM_EDIT
    target = url_for("admin.domain_tab", domain_id=domain_id, tab=TAB)
    try:
        with attempt():
            result = dkim.check_rotation(current_principal(), domain.id)
    except Unavailable:
        flash(_("DNS did not answer in time: nothing changed. Try again in a moment."), "error")
        return redirect(target)
    except (NotFound, Conflict) as error:  # nothing pending (any more: the hourly check may have activated it)
        flash(str(error.detail), "error")
        return redirect(target)
    flash(str(result.message), "success" if result.state == dkim.ACTIVE else "warning")
    return redirect(target)


@bp.post("/admin/domains/<domain_id>/dkim/rotation/cancel")
def dkim_cancel(domain_id: str) -> Response:
    domain = _domain(domain_id, Permission.DKIM_EDIT)
    try:
        with attempt():
            dkim.cancel_rotation(current_principal(), domain.id)
    except NotFound as error:  # nothing pending (any more)
        flash(str(error.detail), "error")
        return redirect(url_for("admin.domain_tab", domain_id=domain_id, tab=TAB))
    return _after(domain_id, TAB, _("The rotation was cancelled: the new key is deleted; the active key signs."))
