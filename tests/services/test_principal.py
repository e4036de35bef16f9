"""Principal.reach: the one access rule for an object of a domain (404 unless visible, 403 unless allowed)."""

from __future__ import annotations

import pytest
from flask import Flask

from portal.errors import Forbidden, NotFound
from portal.extensions import db
from portal.models import Admin, MailUser
from portal.permissions import Permission
from portal.services.principal import principal_for_admin, principal_for_user
from tests.world import World


@pytest.mark.usefixtures("ctx")
def test_reach_answers_pass_403_or_404(app: Flask, world: World) -> None:
    reader = principal_for_admin(db.session.get(Admin, world.pk["readerA"]))
    reader.reach(world.pk["A"], Permission.DOMAIN_READ)  # held: passes
    with pytest.raises(Forbidden, match=r"^You need the DOMAIN_EDIT permission on this domain\.$"):
        reader.reach(world.pk["A"], Permission.DOMAIN_EDIT)  # seen, not allowed
    with pytest.raises(Forbidden, match=r"^Editing is refused\.$"):
        reader.reach(world.pk["A"], Permission.DOMAIN_EDIT, refused="Editing is refused.")
    with pytest.raises(NotFound, match=r"^No such thing\.$"):
        reader.reach(world.pk["B"], Permission.DOMAIN_READ, missing="No such thing.")  # out of sight
    with pytest.raises(NotFound):  # seen only with another permission than the one that makes it visible
        reader.reach(world.pk["A"], Permission.DOMAIN_EDIT, seen_with=Permission.USER_READ)
    sysadmin = principal_for_admin(db.session.get(Admin, world.admin_of_role["sysadmin"]))
    sysadmin.reach(world.pk["C"], Permission.DOMAIN_EDIT)
    end_user = principal_for_user(db.session.get(MailUser, world.pk["userA"]))
    with pytest.raises(NotFound):  # a mailbox user holds no admin permission, even on their own domain
        end_user.reach(world.pk["A"], Permission.DOMAIN_READ)
