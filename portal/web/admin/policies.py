"""The policy editor: four property groups, validated by the API's schema, errors next to fields."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext as _

from ... import ids
from ...errors import ServiceError
from ...models import Domain, Policy
from ...permissions import Permission
from ...schemas.domains import ArchiveProps, PolicyIn, QuarantineProps, RelayProps, RetentionProps
from ...services import domains, policies
from ...unit_of_work import attempt
from .. import forms, policy_form
from ..render import render
from ..session import current_principal
from .blueprint import bp


def _values(policy: Policy | None) -> dict[str, Any]:
    """The editor's values: stored properties, defaults for a group never set."""
    if policy is None:
        policy = policies.default_policy(Domain(name="new"), quarantine=True, retention=False,
                                         archive=False)
        policy.name = ""
    wire = {
        "name": policy.name, "mailSizeLimit": policy.mail_size_limit, "spamScore": policy.spam_score,
        "incoming": policy.incoming, "outgoing": policy.outgoing, "quarantine": policy.quarantine,
        "retention": policy.retention, "archive": policy.archive,
        "relayProps": policy.relay_props or RelayProps().model_dump(by_alias=True),
        "quarantineProps": policy.quarantine_props or QuarantineProps().model_dump(by_alias=True),
        "retentionProps": policy.retention_props or RetentionProps().model_dump(by_alias=True),
        "archiveProps": policy.archive_props or ArchiveProps().model_dump(by_alias=True),
    }
    return policy_form.values(wire)


def _page(domain: Any, policy: Policy | None, values: dict[str, Any], errors: dict[str, str],
          status: int = 200) -> Response:
    return render("admin/policies/edit.html", status=status, domain=domain, domain_id=ids.encode(domain.id),
                  policy=policy, values=values, errors=errors, groups=policy_form.GROUPS, key=policy_form.key,
                  can_edit=current_principal().is_sysadmin)


@bp.route("/admin/domains/<domain_id>/policies/new", methods=["GET", "POST"])
def policy_new(domain_id: str) -> Response:
    principal = current_principal()
    domain = domains.get(principal, ids.decode(domain_id), Permission.DOMAIN_READ)
    if request.method == "GET":
        principal.require_sysadmin()  # as policies.create: the empty form is only for who may save it
        return _page(domain, None, _values(None), {})
    try:
        with attempt():
            policy = policies.create(principal, domain, forms.parse(PolicyIn, policy_form.parse(request.form)))
    except ServiceError as error:
        return _page(domain, None, request.form.to_dict(), forms.messages(error),
                     error.status)
    flash(_("Policy %(name)s was created.", name=policy.name), "success")
    return redirect(url_for("admin.domain_tab", domain_id=domain_id, tab="policies"))


@bp.route("/admin/policies/<policy_id>", methods=["GET", "POST"])
def policy_edit(policy_id: str) -> Response:
    principal = current_principal()
    policy = policies.get(principal, ids.decode(policy_id))
    domain = policy.domain
    if request.method == "GET":
        return _page(domain, policy, _values(policy), {})
    try:
        with attempt():
            policies.update(principal, policy.id, forms.parse(PolicyIn, policy_form.parse(request.form)))
    except ServiceError as error:
        policy = policies.get(principal, ids.decode(policy_id))
        return _page(policy.domain, policy, request.form.to_dict(),
                     forms.messages(error), error.status)
    flash(_("Policy saved."), "success")
    return redirect(url_for("admin.policy_edit", policy_id=policy_id))


@bp.post("/admin/policies/<policy_id>/delete")
def policy_delete(policy_id: str) -> Response:
    principal = current_principal()
    policy = policies.get(principal, ids.decode(policy_id))
    domain_id = ids.encode(policy.domain_id)
    try:
        with attempt():
            policies.delete(principal, policy.id)
    except ServiceError as error:
        flash(str(error.detail), "error")
        return redirect(url_for("admin.policy_edit", policy_id=policy_id))
    flash(_("Policy deleted."), "success")
    return redirect(url_for("admin.domain_tab", domain_id=domain_id, tab="policies"))
