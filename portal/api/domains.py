"""Seed 5.3 DomainAliases, 5.4 DomainPolicies and 5.5 Domains."""

from __future__ import annotations

from flask import Response

from .. import ids, serializers
from ..models import Domain
from ..permissions import Permission
from ..schemas.accounts import AdminAdd, AdminOut
from ..schemas.domains import (
    AclPermissionStatus,
    AliasOut,
    DomainAdd,
    DomainNames,
    DomainOut,
    DomainUpdate,
    OptionAdd,
    OptionOut,
    PolicyIn,
    PolicyOut,
    StringList,
)
from ..services import admins, domain_rows, domains, options, policies
from .framework import (
    IGNORE_MX,
    Access,
    Listing,
    created,
    endpoint,
    ignore_mx,
    json_response,
    list_response,
    no_content,
    principal,
)

NOT_FOUND = {404: "Domain not found with given id"}
DOMAIN_LIST = Listing(spec=domain_rows.ROWS_SPEC, export_name="domains", descriptions={
    "name": "Filter domains by name (value, prefix*, *suffix, *contains*)", "status": "Filter domains by status",
    "customerId": "Filter domains by customer id", "externalId": "Filter domains by external id",
    "platformId": "Filter domains by platform id", "platformName": "Filter domains by platform name"})
ALIAS_LIST = Listing(spec=domains.ALIAS_SPEC)
POLICY_LIST = Listing(spec=policies.LIST_SPEC)
ADMIN_LIST = Listing(spec=admins.ROWS_SPEC, descriptions={"search": "Filter by login, email, displayName"})


def _domain(domain_id: str, need: Permission = Permission.DOMAIN_READ) -> Domain:
    return domains.get(principal(), ids.decode(domain_id), need)


# --- 5.5 Domains --------------------------------------------------------------------------------

@endpoint("/domains", "POST", access=Access.ADMIN, tag="Domains", summary="Create domain", body=DomainAdd,
          response=DomainOut, status=201, query=(IGNORE_MX,),
          errors={403: "Not allowed to create domains for this customer", 409: "A domain may already exists",
                  422: "The MX does not point to this gateway"})
def create_domain(body: DomainAdd) -> Response:
    domain = domains.create(principal(), body, ignore_mx=ignore_mx())
    return created(serializers.domain_out(domain), f"/api/domains/{ids.encode(domain.id)}")


@endpoint("/domains", "GET", access=Permission.DOMAIN_READ, tag="Domains", summary="List domains",
          response=list[DomainOut], listing_=DOMAIN_LIST)
def list_domains() -> Response:
    stmt = domain_rows.as_rows(domains.list_query(principal()))
    return list_response(stmt, DOMAIN_LIST, serializers.domain_list, serializers.DOMAIN_COLUMNS)


@endpoint("/domains/<domainId>", "GET", access=Access.ADMIN, tag="Domains", summary="Single domain",
          response=DomainOut, errors=NOT_FOUND)
def get_domain(domainId: str) -> Response:
    return json_response(serializers.domain_out(_domain(domainId)))


@endpoint("/domains/<domainId>", "PATCH", access=Access.ADMIN, tag="Domains", summary="Edit a domain",
          body=DomainUpdate, status=204, query=(IGNORE_MX,),
          errors={**NOT_FOUND, 409: "Name already used", 422: "The MX does not point to this gateway"})
def update_domain(domainId: str, body: DomainUpdate) -> Response:
    domains.update(principal(), ids.decode(domainId), body, ignore_mx=ignore_mx())
    return no_content()


@endpoint("/domains/<domainId>", "DELETE", access=Access.ADMIN, tag="Domains", summary="Delete a domain",
          status=204, query=(IGNORE_MX,),
          errors={**NOT_FOUND, 403: "Only users with sysadmin role", 422: "The MX still points to this gateway"})
def delete_domain(domainId: str) -> Response:
    domains.delete(principal(), ids.decode(domainId), ignore_mx=ignore_mx())
    return no_content()


@endpoint("/domains/<domainId>/access", "GET", access=Access.ADMIN, tag="Domains", summary="List users access",
          response=list[AclPermissionStatus], errors=NOT_FOUND)
def get_access(domainId: str) -> Response:
    rows = domains.end_user_access(_domain(domainId))
    return json_response([AclPermissionStatus(name=n, enabled=e) for n, e in rows])


@endpoint("/domains/<domainId>/access", "PUT", access=Access.ADMIN, tag="Domains", summary="Affect users access",
          body=StringList, status=204, errors=NOT_FOUND)
def set_access(domainId: str, body: StringList) -> Response:
    domains.set_end_user_access(principal(), ids.decode(domainId), body.root)
    return no_content()


@endpoint("/domains/<domainId>/options", "GET", access=Access.ADMIN, tag="Domains", summary="List domain options",
          response=list[OptionOut], errors=NOT_FOUND)
def list_domain_options(domainId: str) -> Response:
    rows = options.listing(options.domain_chain(_domain(domainId)))
    return json_response([serializers.option_out(r) for r in rows], headers={
        "X-Total-Count": str(len(rows)), "Access-Control-Expose-Headers": "X-Total-Count"})


@endpoint("/domains/<domainId>/options", "POST", access=Access.ADMIN, tag="Domains", summary="Set domain option",
          body=OptionAdd, response=OptionOut, status=201, errors=NOT_FOUND)
def set_domain_option(domainId: str, body: OptionAdd) -> Response:
    domain = _domain(domainId, Permission.DOMAIN_EDIT)
    resolved = options.set_value(principal(), options.domain_chain(domain), body.name, body.value)
    return created(serializers.option_out(resolved), f"/api/domains/{domainId}/options")


@endpoint("/domains/<domainId>/options/<optionName>", "DELETE", access=Access.ADMIN, tag="Domains",
          summary="Delete domain option", status=204, errors=NOT_FOUND)
def delete_domain_option(domainId: str, optionName: str) -> Response:
    domain = _domain(domainId, Permission.DOMAIN_EDIT)
    options.delete_value(principal(), options.domain_chain(domain), optionName)
    return no_content()


# --- domain admins ------------------------------------------------------------------------------

@endpoint("/domains/<domainId>/admins", "GET", access=Access.ADMIN, tag="Domains", summary="List admins",
          response=list[AdminOut], listing_=ADMIN_LIST, errors=NOT_FOUND)
def list_domain_admins(domainId: str) -> Response:
    stmt = admins.as_rows(admins.domain_admins_query(principal(), _domain(domainId)))
    return list_response(stmt, ADMIN_LIST, serializers.admin_rows)


@endpoint("/domains/<domainId>/admins", "POST", access=Access.ADMIN, tag="Domains", summary="Create admin access",
          body=AdminAdd, response=AdminOut, status=201, errors={**NOT_FOUND, 409: "Login already taken"})
def add_domain_admin(domainId: str, body: AdminAdd) -> Response:
    admin = admins.add_domain_admin(principal(), _domain(domainId), body)
    return created(serializers.admin_out(admin), f"/api/domains/{domainId}/admins/{ids.encode(admin.id)}")


@endpoint("/domains/<domainId>/admins/<adminId>", "GET", access=Access.ADMIN, tag="Domains", summary="Get admin",
          response=AdminOut, errors=NOT_FOUND)
def get_domain_admin(domainId: str, adminId: str) -> Response:
    admin = admins.domain_admin(principal(), _domain(domainId), ids.decode(adminId))
    return json_response(serializers.admin_out(admin))


@endpoint("/domains/<domainId>/admins/<adminId>", "DELETE", access=Access.ADMIN, tag="Domains",
          summary="Revoke admin access", status=204, errors=NOT_FOUND)
def revoke_domain_admin(domainId: str, adminId: str) -> Response:
    admins.revoke_domain_admin(principal(), _domain(domainId), ids.decode(adminId))
    return no_content()


@endpoint("/domains/<domainId>/admins/<adminId>/authorities", "PUT", access=Access.ADMIN, tag="Domains",
          summary="Define admin access", body=StringList, response=AdminOut, errors=NOT_FOUND)
def set_domain_admin_authorities(domainId: str, adminId: str, body: StringList) -> Response:
    admin = admins.set_domain_authorities(principal(), _domain(domainId), ids.decode(adminId), body.root)
    return json_response(serializers.admin_out(admin))


# --- 5.3 DomainAliases --------------------------------------------------------------------------

@endpoint("/domains/<domainId>/aliases", "GET", access=Access.ADMIN, tag="DomainAliases",
          summary="List domain aliases", response=list[AliasOut], listing_=ALIAS_LIST, errors=NOT_FOUND)
def list_aliases(domainId: str) -> Response:
    return list_response(domains.alias_query(_domain(domainId)), ALIAS_LIST,
                         lambda rows: [serializers.alias_out(a) for a in rows])


@endpoint("/domains/<domainId>/aliases", "POST", access=Access.ADMIN, tag="DomainAliases",
          summary="Add domain alias", body=DomainNames, response=list[AliasOut], status=201,
          errors={**NOT_FOUND, 409: "An alias or a domain may already exists with the given name"})
def add_aliases(domainId: str, body: DomainNames) -> Response:
    added = domains.add_aliases(principal(), ids.decode(domainId), body.root)
    return created([serializers.alias_out(a) for a in added], f"/api/domains/{domainId}/aliases")


@endpoint("/domains/<domainId>/aliases", "PUT", access=Access.ADMIN, tag="DomainAliases",
          summary="Edit domain aliases", body=DomainNames, status=204,
          errors={**NOT_FOUND, 409: "An alias may already exists with the given name"})
def replace_aliases(domainId: str, body: DomainNames) -> Response:
    domains.replace_aliases(principal(), ids.decode(domainId), body.root)
    return no_content()


@endpoint("/domains/<domainId>/aliases/<aliasId>", "DELETE", access=Access.ADMIN, tag="DomainAliases",
          summary="Delete a domain alias", status=204, errors={404: "The domain and/or the alias may not exist"})
def delete_alias(domainId: str, aliasId: str) -> Response:
    domains.delete_alias(principal(), ids.decode(domainId), ids.decode(aliasId))
    return no_content()


# --- 5.4 DomainPolicies -------------------------------------------------------------------------

@endpoint("/domains/<domainId>/policies", "GET", access=Access.ADMIN, tag="DomainPolicies",
          summary="List domain policies", response=list[PolicyOut], listing_=POLICY_LIST, errors=NOT_FOUND)
def list_policies(domainId: str) -> Response:
    return list_response(policies.list_query(_domain(domainId)), POLICY_LIST,
                         lambda rows: [serializers.policy_out(p) for p in rows])


@endpoint("/domains/<domainId>/policies", "POST", access=Access.ADMIN, tag="DomainPolicies", summary="New policy",
          body=PolicyIn, response=PolicyOut, status=201,
          errors={403: "Only users with sysadmin role", 409: "A policy may already exists with the given name",
                  422: "Operation cannot be done because of not met conditions"})
def create_policy(domainId: str, body: PolicyIn) -> Response:
    policy = policies.create(principal(), _domain(domainId), body)
    return created(serializers.policy_out(policy), f"/api/policies/{ids.encode(policy.id)}")


@endpoint("/policies/<policyId>", "GET", access=Access.ADMIN, tag="DomainPolicies", summary="Single domain policy",
          response=PolicyOut, errors={404: "Policy not found with given id"})
def get_policy(policyId: str) -> Response:
    return json_response(serializers.policy_out(policies.get(principal(), ids.decode(policyId))))


@endpoint("/policies/<policyId>", "PATCH", access=Access.ADMIN, tag="DomainPolicies", summary="Edit a policy",
          body=PolicyIn, status=204, errors={403: "Only users with sysadmin role", 404: "Policy not found",
                                              422: "Operation cannot be done because of not met conditions"})
def update_policy(policyId: str, body: PolicyIn) -> Response:
    policies.update(principal(), ids.decode(policyId), body)
    return no_content()


@endpoint("/policies/<policyId>", "DELETE", access=Access.ADMIN, tag="DomainPolicies", summary="Delete a policy",
          status=204, errors={400: "The policy is affected to a domain or a user", 403: "Only users with sysadmin role",
                              404: "Policy not found with given id"})
def delete_policy(policyId: str) -> Response:
    policies.delete(principal(), ids.decode(policyId))
    return no_content()
