"""Seed 5.8 FilteringRulesOnAttachments, 5.9 FilteringRulesOnSenders, 5.10 FilteringRulesOnURI,
5.15 UsersAliases."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask import Response, request
from sqlalchemy.orm import selectinload

from .. import ids, serializers
from ..extensions import db
from ..models import Domain, EmailAlias, SenderRule
from ..schemas.rules import (
    AddressList,
    DecisionOut,
    EmailAliasOut,
    FilterAttachmentAdd,
    FilterAttachmentOut,
    FilterSenderAdd,
    FilterSenderAddList,
    FilterSenderItemList,
    FilterSenderOut,
    FilterUriBlAdd,
    FilterUriBlOut,
    NewEmailAlias,
)
from ..services import content_rules, decisions, wblist
from ..services import email_aliases as groups
from ..services.wblist import Owner
from .framework import (
    Access,
    Listing,
    QueryParam,
    created,
    endpoint,
    json_response,
    list_response,
    no_content,
    principal,
)

SENDER_LIST = Listing(spec=wblist.LIST_SPEC, export_name="sender-rules", descriptions={
    "type": "Filter the list by type: ALLOW, BLOCK or PROTECTED", "value": "Filter the list by the sender value"})
ATTACHMENT_LIST = Listing(spec=content_rules.ATTACHMENT_SPEC, export_name="attachment-rules",
                          descriptions={"action": "Filter the list by action"})
URI_LIST = Listing(spec=content_rules.URI_SPEC, export_name="uri-rules",
                   descriptions={"action": "Filter the list by action"})
GROUP_LIST = Listing(spec=groups.LIST_SPEC, export_name="email-aliases", descriptions={
    "email": "Filter groups by the alias's email", "address": "Same as email",
    "recipient": "Filter groups by recipient's email"})
CONFLICT = {409: "An identical rule may already exist", 422: "Operation cannot be done because of not met conditions"}


def _sender_out(owner: Owner) -> Callable[[Sequence[SenderRule]], list[FilterSenderOut]]:
    return lambda rules: [serializers.sender_rule(r, owner.label) for r in rules]


# --- 5.9 senders --------------------------------------------------------------------------------

@endpoint("/wblist", "POST", access=Access.AUTHENTICATED, tag="FilteringRulesOnSenders", summary="Add entries",
          body=FilterSenderItemList, response=list[FilterSenderOut], status=201, errors=CONFLICT)
def add_entries(body: FilterSenderItemList) -> Response:
    rules, owners = wblist.add_items(principal(), body.root)
    return json_response([serializers.sender_rule(r, owners[r.owner_key].label) for r in rules], 201)


def _domain_owner(domain_id: str, write: bool) -> Owner:
    return wblist.domain_owner(principal(), ids.decode(domain_id), write=write)


def _user_owner(user_id: str, write: bool) -> Owner:
    return wblist.user_owner(principal(), ids.decode(user_id), write=write)


def _owner_routes(prefix: str, param: str, owner_of: Callable[[str, bool], Owner], access: Access,
                  noun: str, possessive: str) -> None:
    """The five routes of one kind of owner (domain or mailbox): list, add, set all, update one, delete."""
    not_found = {404: f"{noun.title()} may not exist"}

    def list_rules(**path: str) -> Response:
        owner = owner_of(path[param], False)
        return list_response(wblist.list_query(owner), SENDER_LIST, _sender_out(owner), serializers.SENDER_COLUMNS)

    def add_rules(body: FilterSenderAddList, **path: str) -> Response:
        owner = owner_of(path[param], True)
        location = f"/api{prefix.replace(f'<{param}>', path[param])}/wblist"
        return created(_sender_out(owner)(wblist.add(owner, body.root)), location)

    def set_rules(body: FilterSenderAddList, **path: str) -> Response:
        owner = owner_of(path[param], True)
        return json_response(_sender_out(owner)(wblist.replace_all(owner, body.root)))

    def update_rule(body: FilterSenderAdd, wbItemId: str, **path: str) -> Response:
        owner = owner_of(path[param], True)
        return json_response(serializers.sender_rule(wblist.replace_one(owner, ids.decode(wbItemId), body),
                                                     owner.label))

    def delete_rule(wbItemId: str, **path: str) -> Response:
        wblist.delete(owner_of(path[param], True), ids.decode(wbItemId))
        return no_content()

    routes = (
        (list_rules, "", "GET", f"Get {possessive} filter rules", dict(response=list[FilterSenderOut],
                                                                       listing_=SENDER_LIST, errors=not_found)),
        (add_rules, "", "POST", f"Add {noun} rule", dict(body=FilterSenderAddList, response=list[FilterSenderOut],
                                                          status=201, errors={**not_found, **CONFLICT})),
        (set_rules, "", "PUT", f"Set {noun} rules", dict(body=FilterSenderAddList, response=list[FilterSenderOut],
                                                          errors={**not_found, **CONFLICT})),
        (update_rule, "/<wbItemId>", "PUT", f"Update {noun} rule", dict(body=FilterSenderAdd,
                                                                        response=FilterSenderOut,
                                                                        errors={**not_found, **CONFLICT})),
        (delete_rule, "/<wbItemId>", "DELETE", f"Delete {noun} rule", dict(status=204, errors=not_found)),
    )
    for fn, suffix, method, summary, options in routes:
        fn.__name__ = f"{fn.__name__}_{noun}"
        endpoint(f"{prefix}/wblist{suffix}", method, access=access, tag="FilteringRulesOnSenders", summary=summary,
                 **options)(fn)


_owner_routes("/domains/<domainId>", "domainId", _domain_owner, Access.ADMIN, "domain", "domain's")
_owner_routes("/users/<userId>", "userId", _user_owner, Access.AUTHENTICATED, "mailbox", "user's")


@endpoint("/wblist/decision", "GET", access=Access.AUTHENTICATED, tag="FilteringRulesOnSenders",
          summary="Explain which sender rule decides for a sender and a recipient (Postern extension)",
          response=DecisionOut, extension=True,
          query=(QueryParam("sender", "Sender address (envelope or From)", True),
                 QueryParam("recipient", "Recipient address", True),
                 QueryParam("spf", "SPF result", schema={"type": "string", "enum": list(decisions.RESULTS)}),
                 QueryParam("dkim", "DKIM result", schema={"type": "string", "enum": list(decisions.RESULTS)})),
          errors={404: "The recipient's domain is not visible to you"})
def explain_sender() -> Response:
    args = request.args
    result = decisions.decide(principal(), args.get("sender", ""), args.get("recipient", ""),
                              args.get("spf") or None, args.get("dkim") or None)
    return json_response(serializers.decision(result))


# --- 5.8 attachments ----------------------------------------------------------------------------

def _scope_of(domain_pk: int) -> str:
    return db.session.get(Domain, domain_pk).name


@endpoint("/domains/<domainId>/filters/attachments", "GET", access=Access.ADMIN, tag="FilteringRulesOnAttachments",
          summary="Get domain's attachment filters", response=list[FilterAttachmentOut], listing_=ATTACHMENT_LIST,
          errors={404: "Domain may not exist"})
def list_attachment_rules(domainId: str) -> Response:
    stmt = content_rules.attachment_query(principal(), ids.decode(domainId))
    scope = _scope_of(ids.decode(domainId))
    return list_response(stmt, ATTACHMENT_LIST, lambda rows: [serializers.attachment_rule(r, scope) for r in rows],
                         serializers.ATTACHMENT_COLUMNS)


@endpoint("/domains/<domainId>/filters/attachments", "POST", access=Access.ADMIN, tag="FilteringRulesOnAttachments",
          summary="Add attachment filter to domain", body=FilterAttachmentAdd, response=FilterAttachmentOut,
          status=201, errors={404: "Domain may not exist", 409: "This item may already exists with same rules"})
def add_attachment_rule(domainId: str, body: FilterAttachmentAdd) -> Response:
    rule = content_rules.add_attachment(principal(), ids.decode(domainId), body)
    return created(serializers.attachment_rule(rule, _scope_of(rule.domain_id)),
                   f"/api/domains/{domainId}/filters/attachments")


@endpoint("/filters/attachments/<attachmentId>", "PATCH", access=Access.ADMIN, tag="FilteringRulesOnAttachments",
          summary="Edit an attachment filter", body=FilterAttachmentAdd, status=204,
          errors={404: "No attachment filter found with given id", 409: "Same rule exists"})
def edit_attachment_rule(attachmentId: str, body: FilterAttachmentAdd) -> Response:
    content_rules.edit_attachment(principal(), ids.decode(attachmentId), body)
    return no_content()


@endpoint("/filters/attachments/<attachmentId>", "DELETE", access=Access.ADMIN, tag="FilteringRulesOnAttachments",
          summary="Delete an attachment filter", status=204, errors={404: "No attachment filter found with given id"})
def delete_attachment_rule(attachmentId: str) -> Response:
    content_rules.delete_attachment(principal(), ids.decode(attachmentId))
    return no_content()


# --- 5.10 URIs ----------------------------------------------------------------------------------

@endpoint("/domains/<domainId>/filters/uris", "GET", access=Access.ADMIN, tag="FilteringRulesOnURI",
          summary="Get domain's URI-BL filters", response=list[FilterUriBlOut], listing_=URI_LIST,
          errors={404: "Domain may not exist"})
def list_uri_rules(domainId: str) -> Response:
    stmt = content_rules.uri_query(principal(), ids.decode(domainId))
    scope = _scope_of(ids.decode(domainId))
    return list_response(stmt, URI_LIST, lambda rows: [serializers.uri_rule(r, scope) for r in rows],
                         serializers.URI_COLUMNS)


@endpoint("/domains/<domainId>/filters/uris", "POST", access=Access.ADMIN, tag="FilteringRulesOnURI",
          summary="Add URI-BL filter to domain", body=FilterUriBlAdd, response=FilterUriBlOut, status=201,
          errors={404: "Domain may not exist", 409: "This item may already exists with same rules"})
def add_uri_rule(domainId: str, body: FilterUriBlAdd) -> Response:
    rule = content_rules.add_uri(principal(), ids.decode(domainId), body)
    return created(serializers.uri_rule(rule, _scope_of(rule.domain_id)), f"/api/domains/{domainId}/filters/uris")


@endpoint("/filters/uris/<uriId>", "PATCH", access=Access.ADMIN, tag="FilteringRulesOnURI",
          summary="Edit an uriBl filter", body=FilterUriBlAdd, status=204,
          errors={404: "No uriBl filter found with given id", 409: "Same rule exists"})
def edit_uri_rule(uriId: str, body: FilterUriBlAdd) -> Response:
    content_rules.edit_uri(principal(), ids.decode(uriId), body)
    return no_content()


@endpoint("/filters/uris/<uriId>", "DELETE", access=Access.ADMIN, tag="FilteringRulesOnURI",
          summary="Delete an uriBl filter", status=204, errors={404: "No uriBl filter found with given id"})
def delete_uri_rule(uriId: str) -> Response:
    content_rules.delete_uri(principal(), ids.decode(uriId))
    return no_content()


# --- 5.15 email aliases -------------------------------------------------------------------------

@endpoint("/domains/<domainId>/groups", "GET", access=Access.ADMIN, tag="UsersAliases",
          summary="List email aliases of a domain", response=list[EmailAliasOut], listing_=GROUP_LIST,
          errors={404: "The domain may not exist"})
def list_groups(domainId: str) -> Response:
    stmt = groups.list_query(principal(), ids.decode(domainId)).options(selectinload(EmailAlias.recipients))
    return list_response(stmt, GROUP_LIST, lambda rows: serializers.email_aliases(principal(), rows),
                         serializers.ALIAS_COLUMNS)


@endpoint("/domains/<domainId>/groups", "POST", access=Access.ADMIN, tag="UsersAliases", summary="New email alias",
          body=NewEmailAlias, response=EmailAliasOut, status=201,
          errors={404: "The domain may not exist", 409: "An email alias may already exists with the given name"})
def create_group(domainId: str, body: NewEmailAlias) -> Response:
    alias = groups.create(principal(), ids.decode(domainId), body.email, body.recipients)
    return created(serializers.email_alias(principal(), alias),
                   f"/api/domains/{domainId}/groups/{ids.encode(alias.id)}")


@endpoint("/domains/<domainId>/groups/<groupId>", "GET", access=Access.ADMIN, tag="UsersAliases",
          summary="List the targeted addresses of an alias", response=EmailAliasOut,
          errors={404: "The domain or the alias may not exist"})
def get_group(domainId: str, groupId: str) -> Response:
    alias = groups.get(principal(), ids.decode(domainId), ids.decode(groupId))
    return json_response(serializers.email_alias(principal(), alias))


@endpoint("/domains/<domainId>/groups/<groupId>", "PATCH", access=Access.ADMIN, tag="UsersAliases",
          summary="Edit an email alias", body=NewEmailAlias, status=204,
          errors={404: "The domain and/or the email alias may not exist"})
def edit_group(domainId: str, groupId: str, body: NewEmailAlias) -> Response:
    groups.edit(principal(), ids.decode(domainId), ids.decode(groupId), body.email, body.recipients)
    return no_content()


@endpoint("/domains/<domainId>/groups/<groupId>/addresses", "POST", access=Access.ADMIN, tag="UsersAliases",
          summary="Add addresses to an email alias", body=AddressList, response=EmailAliasOut, status=201,
          errors={404: "The domain or the alias may not exist"})
def add_group_addresses(domainId: str, groupId: str, body: AddressList) -> Response:
    alias = groups.add_recipients(principal(), ids.decode(domainId), ids.decode(groupId), body.root)
    return json_response(serializers.email_alias(principal(), alias), 201)


@endpoint("/domains/<domainId>/groups/<groupId>/addresses/<addressId>", "DELETE", access=Access.ADMIN,
          tag="UsersAliases", summary="Delete an email alias recipient", status=204,
          errors={404: "The domain, the alias or the recipient may not exist"})
def delete_group_address(domainId: str, groupId: str, addressId: str) -> Response:
    groups.delete_recipient(principal(), ids.decode(domainId), ids.decode(groupId), ids.decode(addressId))
    return no_content()


@endpoint("/groups/<groupId>", "DELETE", access=Access.ADMIN, tag="UsersAliases", summary="Delete an email alias",
          status=204, errors={404: "The domain and/or the alias may not exist"})
def delete_group(groupId: str) -> Response:
    groups.delete(principal(), ids.decode(groupId))
    return no_content()
