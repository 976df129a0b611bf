#!/usr/bin/env python3
"""Moto test server for the kiro-onboard integration tests.

Usage (from the repository root, after ``scripts/setup-test-env``)::

    .venv/bin/python tests/servers/moto_server.py --host 127.0.0.1 --port 0

``--port 0`` binds a free ephemeral port.  Once the socket accepts connections the
launcher prints exactly one line ``READY <port>`` to stdout (flushed); everything
else (request log, warnings) goes to stderr.  SIGTERM / SIGINT stop it cleanly with
exit status 0.  With ``--exit-on-stdin-eof`` it also exits when its stdin is closed
(e.g. when the test process that holds the pipe dies).

This is stock moto 5.2.5 (``moto[server]``) plus a few *additive* monkeypatches that
fill gaps between moto and the real AWS APIs the tool calls (see
``tests/servers/README.md``).  Each patch lives in its own ``patch_*`` function and only
adds operations moto does not implement; it refuses to replace anything moto already
has.  Shapes and member names follow the botocore 1.44.5 service models
(identitystore 2020-06-15, sso-admin 2020-07-20), which are what the Rust SDK is
generated from.

The server never talks to the internet: moto in server mode is self-contained, and the
EC2 metadata lookups botocore could attempt are disabled below.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import re
import sys
from typing import Any, Callable

import sso_oidc  # tests/servers/sso_oidc.py: IAM Identity Center OIDC, which moto lacks
from emulators.base.serve import serve, stop_on_signals  # tests/servers/emulators/base/serve.py

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

MOTO_VERSION = "5.2.5"


def _warn(msg: str) -> None:
    print(f"moto_server: {msg}", file=sys.stderr, flush=True)


def _add_method(cls: type, name: str, fn: Callable[..., Any]) -> bool:
    """Attach ``fn`` as ``cls.name`` unless moto already defines it (never override)."""
    if name in cls.__dict__ or hasattr(cls, name):
        _warn(f"{cls.__name__}.{name} already exists in this moto; keeping moto's version")
        return False
    fn.__name__ = name
    fn.__qualname__ = f"{cls.__name__}.{name}"
    setattr(cls, name, fn)
    return True


# ---------------------------------------------------------------------------------------
# identitystore: UpdateUser / UpdateGroup
# ---------------------------------------------------------------------------------------

# Maximum string lengths from the service model (SensitiveStringType 1..1024, UserName 1..128).
_MAX_LEN = {"UserName": 128}
_DEFAULT_MAX_LEN = 1024

# Simple (single-valued, string) user attributes: lower-cased AttributePath -> User field.
_USER_STRING_PATHS = {
    "username": "UserName",
    "displayname": "DisplayName",
    "nickname": "NickName",
    "profileurl": "ProfileUrl",
    "usertype": "UserType",
    "title": "Title",
    "preferredlanguage": "PreferredLanguage",
    "locale": "Locale",
    "timezone": "Timezone",
}

# Sub-attributes of ``name``: lower-cased sub path -> Name field.
_NAME_FIELDS = {
    "formatted": "Formatted",
    "familyname": "FamilyName",
    "givenname": "GivenName",
    "middlename": "MiddleName",
    "honorificprefix": "HonorificPrefix",
    "honorificsuffix": "HonorificSuffix",
}

# Multi-valued complex attributes (lists of structures, model: exactly 1 item).
# lower-cased AttributePath -> (User field, {lower-cased key -> model member name}).
_USER_MULTI_VALUED = {
    "emails": (
        "Emails",
        {"value": "Value", "type": "Type", "primary": "Primary"},
    ),
    "phonenumbers": (
        "PhoneNumbers",
        {"value": "Value", "type": "Type", "primary": "Primary"},
    ),
    "addresses": (
        "Addresses",
        {
            "streetaddress": "StreetAddress",
            "locality": "Locality",
            "region": "Region",
            "postalcode": "PostalCode",
            "country": "Country",
            "formatted": "Formatted",
            "type": "Type",
            "primary": "Primary",
        },
    ),
}


def _identitystore_helpers() -> dict[str, Any]:
    from moto.identitystore.exceptions import (
        ConflictException,
        ResourceNotFoundException,
        ValidationException,
    )

    def check_string(path: str, field: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ValidationException(
                message=f"Invalid value for attribute {path}: expected a string"
            )
        if value == "":
            raise ValidationException(
                message=f"attribute value cannot be empty or null for attribute path {path}"
            )
        limit = _MAX_LEN.get(field, _DEFAULT_MAX_LEN)
        if len(value) > limit:
            raise ValidationException(
                message=f"Invalid length for attribute {path}: maximum length is {limit}"
            )
        return value

    def check_operations(operations: Any) -> list[dict[str, Any]]:
        if not isinstance(operations, list) or not 1 <= len(operations) <= 100:
            raise ValidationException(
                message="Operations must contain between 1 and 100 AttributeOperation items"
            )
        for op in operations:
            if not isinstance(op, dict) or not isinstance(op.get("AttributePath"), str) or not op["AttributePath"]:
                raise ValidationException(
                    message="AttributePath is a required member of AttributeOperation"
                )
        return operations

    return {
        "ConflictException": ConflictException,
        "ResourceNotFoundException": ResourceNotFoundException,
        "ValidationException": ValidationException,
        "check_string": check_string,
        "check_operations": check_operations,
    }


def _next_revision(identity_store: Any, resource_id: str) -> str:
    """Per-resource revision counter kept on moto's IdentityStoreData (reset with moto).

    moto does not track revisions at all (Create*/Describe* return none), so a resource
    that was never updated is treated as revision 1 and each update increments it.
    """
    revisions = identity_store.__dict__.setdefault("_kiro_revisions", {})
    revisions[resource_id] = revisions.get(resource_id, 1) + 1
    return str(revisions[resource_id])


def _identitystore_arn(backend: Any, kind: str, resource_id: str) -> str:
    from moto.utilities.utils import get_partition

    # Model ResourceArn pattern: arn:aws[a-z-]*:identitystore:::(user|group|membership)/<id>
    return f"arn:{get_partition(backend.region_name)}:identitystore:::{kind}/{resource_id}"


def patch_identitystore_update_user() -> None:
    """identitystore ``UpdateUser`` (AWSIdentityStore.UpdateUser).

    Real AWS: applies a list of ``AttributeOperation{AttributePath, AttributeValue}`` to a
    user.  ``AttributeValue`` is a Smithy Document; omitting it (or sending JSON null)
    removes the attribute.  Multi-valued attributes (``emails``, ``phoneNumbers``,
    ``addresses``) can only be replaced as a whole list (AWS answers
    ``ValidationException: Unsupported update operation on multi-value attribute ...``
    for paths such as ``emails.value``); the model allows exactly one item.  Unknown
    user -> ``ResourceNotFoundException`` (ResourceType USER).  The response carries
    ``IdentityStoreId, UserId, UserArn, Revision`` (botocore 1.44.5 / aws-sdk-identitystore
    1.122 model; older API docs said "empty body" -- extra members are harmless).

    moto 5.2.5 gap: the operation is missing (HTTP 500 NotImplementedError).

    Supported paths (case-insensitive, like SCIM attribute names): ``userName``,
    ``displayName``, ``nickName``, ``profileUrl``, ``userType``, ``title``,
    ``preferredLanguage``, ``locale``, ``timezone``, ``name`` (whole object) and
    ``name.{givenName,familyName,formatted,middleName,honorificPrefix,honorificSuffix}``,
    ``emails``, ``phoneNumbers``, ``addresses``.  Keys inside list items are accepted in
    any case (``value``/``Value``...) and stored with the model member names, so
    DescribeUser/ListUsers return ``Emails: [{Value, Type, Primary}]``.  Anything else ->
    ``ValidationException``.  Operations are applied atomically; the attributes moto
    requires at CreateUser (userName, displayName, name.givenName, name.familyName) cannot
    be removed; renaming onto an existing userName -> ``ConflictException``
    (UNIQUENESS_CONSTRAINT_VIOLATION), as moto's CreateUser does.  The optional input
    ``Revision`` (optimistic concurrency) is accepted but not checked, because moto
    exposes no revisions to compare against.
    """
    from moto.identitystore.models import IdentityStoreBackend, Name
    from moto.identitystore.responses import IdentityStoreResponse

    h = _identitystore_helpers()
    ValidationException = h["ValidationException"]

    def canonical_item(path: str, item: Any, keys: dict[str, str]) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise ValidationException(
                message=f"Invalid value for attribute {path}: expected a list of objects"
            )
        out: dict[str, Any] = {}
        for k, v in item.items():
            member = keys.get(str(k).lower())
            if member is None:
                raise ValidationException(
                    message=f"Invalid sub-attribute {k} for attribute {path}"
                )
            if v is None:
                continue
            if member == "Primary":
                if not isinstance(v, bool):
                    raise ValidationException(
                        message=f"Invalid value for {path}.primary: expected a boolean"
                    )
                out[member] = v
            else:
                out[member] = h["check_string"](f"{path}.{member[0].lower()}{member[1:]}", member, v)
        return out

    def apply_name(name: Name | None, field: str | None, value: Any, path: str) -> Name | None:
        current = name._asdict() if name is not None else dict.fromkeys(Name._fields)
        if field is None:  # the whole "name" object
            if value is None:
                return None
            if not isinstance(value, dict):
                raise ValidationException(
                    message=f"Invalid value for attribute {path}: expected an object"
                )
            current = dict.fromkeys(Name._fields)
            for k, v in value.items():
                member = _NAME_FIELDS.get(str(k).lower())
                if member is None:
                    raise ValidationException(
                        message=f"Invalid sub-attribute {k} for attribute {path}"
                    )
                current[member] = None if v is None else h["check_string"](f"name.{k}", member, v)
        else:
            current[field] = None if value is None else h["check_string"](path, field, value)
        if all(v is None for v in current.values()):
            return None
        return Name(**current)

    def update_user(
        self: IdentityStoreBackend,
        identity_store_id: str,
        user_id: str,
        operations: list[dict[str, Any]],
    ) -> str:
        identity_store = self._IdentityStoreBackend__get_identity_store(identity_store_id)
        user = identity_store.users.get(user_id)
        if user is None:
            raise h["ResourceNotFoundException"](message="USER not found.", resource_type="USER")
        operations = h["check_operations"](operations)

        fields = user._asdict()
        for op in operations:
            path = op["AttributePath"]
            value = op.get("AttributeValue")
            lpath = path.lower()
            head = re.split(r"[.\[]", lpath, maxsplit=1)[0]

            if lpath in _USER_STRING_PATHS:
                field = _USER_STRING_PATHS[lpath]
                fields[field] = None if value is None else h["check_string"](path, field, value)
            elif lpath == "name":
                fields["Name"] = apply_name(fields["Name"], None, value, path)
            elif lpath.startswith("name.") and lpath[5:] in _NAME_FIELDS:
                fields["Name"] = apply_name(fields["Name"], _NAME_FIELDS[lpath[5:]], value, path)
            elif lpath in _USER_MULTI_VALUED:
                field, keys = _USER_MULTI_VALUED[lpath]
                if value is None:
                    fields[field] = None
                else:
                    if not isinstance(value, list):
                        raise ValidationException(
                            message=f"Invalid value for attribute {path}: expected a list"
                        )
                    if len(value) != 1:
                        raise ValidationException(
                            message=f"Invalid number of items for attribute {path}: "
                            f"exactly 1 item is allowed"
                        )
                    fields[field] = [canonical_item(path, item, keys) for item in value]
            elif head in _USER_MULTI_VALUED:
                raise ValidationException(
                    message=f"Unsupported update operation on multi-value attribute {head}, "
                    "please provide full replacement of Multi-Value attribute types"
                )
            else:
                raise ValidationException(
                    message=f"Unsupported attribute path for UpdateUser: {path}"
                )

        # Same required attributes and messages as moto's CreateUser validation.
        if not fields["UserName"]:
            raise ValidationException(message="userName is a required attribute")
        missing = []
        if not fields["DisplayName"]:
            missing.append("displayname")
        if not fields["Name"]:
            missing.append("name")
        else:
            if not fields["Name"].GivenName:
                missing.append("givenname")
            if not fields["Name"].FamilyName:
                missing.append("familyname")
        if missing:
            raise ValidationException(
                message=", ".join(f"{a}: The attribute {a} is required" for a in missing)
            )
        if fields["UserName"] != user.UserName and any(
            u.UserName == fields["UserName"]
            for uid, u in identity_store.users.items()
            if uid != user_id
        ):
            raise h["ConflictException"](
                message="Duplicate UserName", reason="UNIQUENESS_CONSTRAINT_VIOLATION"
            )

        identity_store.users[user_id] = user._replace(**fields)
        return _next_revision(identity_store, user_id)

    def update_user_response(self: IdentityStoreResponse) -> str:
        identity_store_id = self._get_param("IdentityStoreId")
        user_id = self._get_param("UserId")
        revision = self.identitystore_backend.update_user(
            identity_store_id=identity_store_id,
            user_id=user_id,
            operations=self._get_param("Operations"),
        )
        return json.dumps(
            {
                "IdentityStoreId": identity_store_id,
                "UserId": user_id,
                "UserArn": _identitystore_arn(self.identitystore_backend, "user", user_id),
                "Revision": revision,
            }
        )

    _add_method(IdentityStoreBackend, "update_user", update_user)
    _add_method(IdentityStoreResponse, "update_user", update_user_response)


def patch_identitystore_update_group() -> None:
    """identitystore ``UpdateGroup`` (AWSIdentityStore.UpdateGroup).

    Real AWS: applies ``AttributeOperation``s to a group; the writable attributes are
    ``displayName`` and ``description`` (omitting ``AttributeValue`` removes the
    attribute).  Unknown group -> ``ResourceNotFoundException`` (ResourceType GROUP).
    Response ``IdentityStoreId, GroupId, GroupArn, Revision`` (model).

    moto 5.2.5 gap: the operation is missing (HTTP 500 NotImplementedError).

    Paths are matched case-insensitively; ``displayName`` cannot be removed and must stay
    unique (``ConflictException`` "Duplicate GroupDisplayName",
    UNIQUENESS_CONSTRAINT_VIOLATION, the same error moto's CreateGroup raises); other
    paths -> ``ValidationException``.  ``Revision`` input is accepted but not checked.
    """
    from moto.identitystore.models import IdentityStoreBackend
    from moto.identitystore.responses import IdentityStoreResponse

    h = _identitystore_helpers()
    ValidationException = h["ValidationException"]
    paths = {"displayname": "DisplayName", "description": "Description"}

    def update_group(
        self: IdentityStoreBackend,
        identity_store_id: str,
        group_id: str,
        operations: list[dict[str, Any]],
    ) -> str:
        identity_store = self._IdentityStoreBackend__get_identity_store(identity_store_id)
        group = identity_store.groups.get(group_id)
        if group is None:
            raise h["ResourceNotFoundException"](message="GROUP not found.", resource_type="GROUP")
        operations = h["check_operations"](operations)

        fields = group._asdict()
        for op in operations:
            path = op["AttributePath"]
            field = paths.get(path.lower())
            if field is None:
                raise ValidationException(
                    message=f"Unsupported attribute path for UpdateGroup: {path}"
                )
            value = op.get("AttributeValue")
            fields[field] = None if value is None else h["check_string"](path, field, value)

        if not fields["DisplayName"]:
            raise ValidationException(
                message="displayname: The attribute displayname is required"
            )
        if fields["DisplayName"] != group.DisplayName and any(
            g.DisplayName == fields["DisplayName"]
            for gid, g in identity_store.groups.items()
            if gid != group_id
        ):
            raise h["ConflictException"](
                message="Duplicate GroupDisplayName",
                reason="UNIQUENESS_CONSTRAINT_VIOLATION",
            )

        identity_store.groups[group_id] = group._replace(**fields)
        return _next_revision(identity_store, group_id)

    def update_group_response(self: IdentityStoreResponse) -> str:
        identity_store_id = self._get_param("IdentityStoreId")
        group_id = self._get_param("GroupId")
        revision = self.identitystore_backend.update_group(
            identity_store_id=identity_store_id,
            group_id=group_id,
            operations=self._get_param("Operations"),
        )
        return json.dumps(
            {
                "IdentityStoreId": identity_store_id,
                "GroupId": group_id,
                "GroupArn": _identitystore_arn(self.identitystore_backend, "group", group_id),
                "Revision": revision,
            }
        )

    _add_method(IdentityStoreBackend, "update_group", update_group)
    _add_method(IdentityStoreResponse, "update_group", update_group_response)


# ---------------------------------------------------------------------------------------
# sso-admin: DescribeInstance (+ test control for the encryption configuration)
# ---------------------------------------------------------------------------------------

_DEFAULT_ENCRYPTION = {"KeyType": "AWS_OWNED_KMS_KEY", "EncryptionStatus": "ENABLED"}
_KMS_KEY_ARN_RE = re.compile(
    r"arn:aws(-[a-z]{1,5}){0,3}:kms:([a-z]{2,}(-[a-z0-9]+)+){1}:[0-9]{12}:key/"
    r"(mrk-[a-f0-9]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)


def _encryption_of(instance: Any) -> dict[str, Any]:
    return copy.deepcopy(instance.__dict__.get("_kiro_encryption", _DEFAULT_ENCRYPTION))


# The resource types the Service Authorization Reference requires per action (AWS Identity
# Store: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentitystore.html;
# AWS IAM Identity Center: .../list_awsiamidentitycenter.html).  "store" is the Identitystore type
# (arn:${Partition}:identitystore::${Account}:identitystore/${IdentityStoreId}); user, group and
# membership are arn:${Partition}:identitystore:::user|group|membership/${Id}, or the All*
# types (…/user/*) where the action lists all of them or the request names no id.  Actions not
# listed here keep moto's "*" (ListInstances and ListApplications take no resource type).
_IDENTITYSTORE_RESOURCES: dict[str, tuple[str, ...]] = {
    "CreateUser": ("store",),
    "CreateGroup": ("store",),
    "CreateGroupMembership": ("group", "store", "member"),
    "DeleteGroupMembership": ("membership", "store"),
    "DescribeUser": ("store", "user"),
    "DescribeGroup": ("group", "store"),
    "UpdateUser": ("store", "user"),
    "UpdateGroup": ("group", "store"),
    "GetUserId": ("store", "user"),
    "GetGroupId": ("group", "store"),
    "ListUsers": ("all_users", "store"),
    "ListGroups": ("all_groups", "store"),
    "ListGroupMemberships": ("all_memberships", "group", "store"),
}
_SSOADMIN_RESOURCES: dict[str, tuple[str, ...]] = {
    "DescribeInstance": ("InstanceArn",),
    "ListAccountAssignmentsForPrincipal": ("InstanceArn",),
    "ListApplicationAssignments": ("ApplicationArn",),
}


def patch_iam_resource_arns() -> None:
    """IAM enforcement with the resources a request names, for identitystore and sso-admin.

    Real AWS authorizes an action against every resource type the Service Authorization
    Reference marks required for it (the tables above), so a statement scoped to the identity
    store, the instance or the application ARN is enough, and one scoped elsewhere is refused.

    moto 5.2.5 gap: its IAM enforcement ("IAM-like Access Control") checks every request of these
    services against ``Resource: "*"`` only, so a scoped statement could never pass and a wrong
    one could never fail.  Here each required resource is checked in turn (moto's own check,
    once per ARN); an id the request does not carry (GetUserId, DeleteGroupMembership's user
    and group) is left out rather than guessed.
    """
    from moto.identitystore.responses import IdentityStoreResponse
    from moto.ssoadmin.responses import SSOAdminResponse

    def identitystore_arns(self: Any) -> list[str]:
        kinds = _IDENTITYSTORE_RESOURCES.get(self._get_action())
        if kinds is None:
            return ["*"]
        partition = "aws-us-gov" if self.region.startswith("us-gov-") else "aws-cn" if self.region.startswith("cn-") else "aws"
        base = f"arn:{partition}:identitystore:::"
        member = (self._get_param("MemberId") or {}).get("UserId")
        arns = {
            "store": f"arn:{partition}:identitystore::{self.current_account}:identitystore/{self._get_param('IdentityStoreId')}",
            "user": self._get_param("UserId") and f"{base}user/{self._get_param('UserId')}",
            "member": member and f"{base}user/{member}",
            "group": self._get_param("GroupId") and f"{base}group/{self._get_param('GroupId')}",
            "membership": self._get_param("MembershipId") and f"{base}membership/{self._get_param('MembershipId')}",
            "all_users": f"{base}user/*",
            "all_groups": f"{base}group/*",
            "all_memberships": f"{base}membership/*",
        }
        return [arns[k] for k in kinds if arns[k]]

    def ssoadmin_arns(self: Any) -> list[str]:
        names = _SSOADMIN_RESOURCES.get(self._get_action())
        if names is None:
            return ["*"]
        return [self._get_param(n) for n in names if self._get_param(n)] or ["*"]

    def authorizing(arns_of: Any) -> Any:
        def authorize(self: Any, resource: str = "*") -> None:
            from moto import settings
            from moto.core.authorization import ActionAuthenticatorMixin

            if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
                # Not enforced yet: moto only counts the request.
                ActionAuthenticatorMixin._authenticate_and_authorize_normal_action(self, resource)
                return
            for arn in arns_of(self):
                ActionAuthenticatorMixin._authenticate_and_authorize_normal_action(self, arn)

        return authorize

    IdentityStoreResponse._authenticate_and_authorize_normal_action = authorizing(identitystore_arns)
    SSOAdminResponse._authenticate_and_authorize_normal_action = authorizing(ssoadmin_arns)


def patch_ssoadmin_instance_regions() -> None:
    """sso-admin ``ListInstances`` and ``DescribeInstance``: ``PrimaryRegion`` and ``Regions``.

    Real AWS (botocore ``sso-admin/2020-07-20``, botocore 1.44.8 in .venv):
    ``InstanceMetadata`` and ``DescribeInstanceResponse`` carry ``PrimaryRegion`` ("The primary
    Region where the IAM Identity Center instance was originally enabled. The primary Region
    cannot be removed.") and ``Regions: [RegionMetadata{RegionName, Status: ACTIVE|ADDING|
    REMOVING, AddedDate, IsPrimaryRegion}]`` ("including Regions with ACTIVE, ADDING, or
    REMOVING status"). Users, groups and memberships can be created, changed and deleted only
    in the primary Region (IAM Identity Center user guide, "use cases across Regions",
    docs/vendor-behaviour.md §4.3).

    moto 5.2.5 gap: its ``Instance.to_json`` has neither field.  A one-Region instance keeps
    moto's answer; a test makes the instance multi-Region with ``POST /_control/sso-regions``
    (or the ``Regions``/``PrimaryRegion`` of ``POST /_control/sso-encryption``).  moto keeps one
    instance per Region, so the instance a test marks in a replica Region stands for the
    replica's view of the instance.  Writes from a replica are not refused here: what AWS
    answers to them is not documented.
    """
    from moto.ssoadmin.models import Instance

    plain = Instance.to_json

    def to_json(self: Any) -> dict[str, Any]:
        out = plain(self)
        regions = self.__dict__.get("_kiro_regions")
        if regions:
            primary = self.__dict__.get("_kiro_primary_region", regions[0])
            out["PrimaryRegion"] = primary
            out["Regions"] = [
                {"RegionName": r, "Status": "ACTIVE", "AddedDate": self.created_date, "IsPrimaryRegion": r == primary}
                for r in regions
            ]
        return out

    Instance.to_json = to_json


def _set_sso_regions(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Handler of ``POST /_control/sso-regions`` (test control): ``{region, Regions,
    PrimaryRegion}`` makes the instance moto keeps in ``region`` multi-Region."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ssoadmin.models import ssoadmin_backends

    region, regions = body.get("region", "us-east-1"), body.get("Regions")
    primary = body.get("PrimaryRegion")
    if not isinstance(regions, list) or not regions or not all(isinstance(r, str) for r in regions):
        return 400, {"error": "Regions must be a non-empty list of Region names"}
    if primary is not None and primary not in regions:
        return 400, {"error": "PrimaryRegion must be one of Regions"}
    try:
        backend = ssoadmin_backends[body.get("account_id", DEFAULT_ACCOUNT_ID)][region]
    except KeyError:
        return 400, {"error": f"unknown region {region!r} for sso-admin"}
    instance = backend.instances[0]
    instance.__dict__["_kiro_regions"] = list(regions)
    instance.__dict__["_kiro_primary_region"] = primary or regions[0]
    return 200, instance.to_json()


def patch_ssoadmin_describe_instance() -> None:
    """sso-admin ``DescribeInstance`` (SWBExternalService.DescribeInstance).

    Real AWS: returns the instance's metadata (InstanceArn, IdentityStoreId,
    OwnerAccountId, Name, CreatedDate, Status, ...) plus
    ``EncryptionConfigurationDetails{KeyType: AWS_OWNED_KMS_KEY|CUSTOMER_MANAGED_KEY,
    KmsKeyArn, EncryptionStatus: UPDATING|ENABLED|UPDATE_FAILED, EncryptionStatusReason}``
    -- the way to discover which KMS key Identity Center encrypts with.  An instance
    uses an AWS owned key unless a customer managed key was configured.

    moto 5.2.5 gap: the operation is missing (HTTP 500 NotImplementedError).

    Returns exactly what moto's ListInstances returns for the instance, plus
    ``EncryptionConfigurationDetails`` (default ``{KeyType: AWS_OWNED_KMS_KEY,
    EncryptionStatus: ENABLED}``; tests change it with ``POST /_control/sso-encryption``).
    An ARN that is not an instance of the calling account/region ->
    ``ResourceNotFoundException`` (note: the model does not list that error for
    DescribeInstance, so the Rust SDK surfaces it as an unhandled/generic error whose
    ``code()`` is "ResourceNotFoundException"; the real service's answer is unconfirmed).
    """
    from moto.ssoadmin.exceptions import ResourceNotFoundException
    from moto.ssoadmin.models import SSOAdminBackend
    from moto.ssoadmin.responses import SSOAdminResponse

    def describe_instance(self: SSOAdminBackend, instance_arn: str) -> dict[str, Any]:
        for instance in self.instances:
            if instance.instance_arn == instance_arn:
                out = instance.to_json()
                out["EncryptionConfigurationDetails"] = _encryption_of(instance)
                return out
        raise ResourceNotFoundException(
            message=f"Could not find Instance with arn {instance_arn}"
        )

    def describe_instance_response(self: SSOAdminResponse) -> str:
        return json.dumps(
            self.ssoadmin_backend.describe_instance(
                instance_arn=self._get_param("InstanceArn")
            )
        )

    _add_method(SSOAdminBackend, "describe_instance", describe_instance)
    _add_method(SSOAdminResponse, "describe_instance", describe_instance_response)


def _set_sso_encryption(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Handler of ``POST /_control/sso-encryption`` (test control, not an AWS API)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ssoadmin.models import ssoadmin_backends

    region = body.get("region", "us-east-1")
    account_id = body.get("account_id", DEFAULT_ACCOUNT_ID)
    key_type = body.get("KeyType", "AWS_OWNED_KMS_KEY")
    status = body.get("EncryptionStatus", "ENABLED")
    if not isinstance(region, str) or not isinstance(account_id, str) or not re.fullmatch(r"[0-9]{12}", account_id):
        return 400, {"error": "region must be a string and account_id a 12-digit string"}
    if key_type not in ("AWS_OWNED_KMS_KEY", "CUSTOMER_MANAGED_KEY"):
        return 400, {"error": "KeyType must be AWS_OWNED_KMS_KEY or CUSTOMER_MANAGED_KEY"}
    if status not in ("UPDATING", "ENABLED", "UPDATE_FAILED"):
        return 400, {"error": "EncryptionStatus must be UPDATING, ENABLED or UPDATE_FAILED"}

    details: dict[str, Any] = {"KeyType": key_type}
    if key_type == "CUSTOMER_MANAGED_KEY":
        arn = body.get("KmsKeyArn")
        if not isinstance(arn, str) or not _KMS_KEY_ARN_RE.fullmatch(arn):
            return 400, {
                "error": "CUSTOMER_MANAGED_KEY needs KmsKeyArn matching the model pattern "
                "arn:aws:kms:<region>:<account>:key/<uuid|mrk-...>"
            }
        details["KmsKeyArn"] = arn
    elif body.get("KmsKeyArn") is not None:
        return 400, {"error": "KmsKeyArn is only allowed with KeyType CUSTOMER_MANAGED_KEY"}
    details["EncryptionStatus"] = status
    if body.get("EncryptionStatusReason") is not None:
        details["EncryptionStatusReason"] = str(body["EncryptionStatusReason"])

    try:
        backend = ssoadmin_backends[account_id][region]
    except KeyError:
        return 400, {"error": f"unknown region {region!r} for sso-admin"}
    instance = backend.instances[0]
    instance.__dict__["_kiro_encryption"] = details
    regions = body.get("Regions")
    if regions is not None:
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            return 400, {"error": "Regions must be a list of Region names"}
        instance.__dict__["_kiro_regions"] = list(regions)
        instance.__dict__["_kiro_primary_region"] = body.get("PrimaryRegion", regions[0] if regions else None)
    return 200, {"InstanceArn": instance.instance_arn, "EncryptionConfigurationDetails": details}


def _create_iam_user(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Handler of ``POST /_control/iam-user`` (test control): an IAM user with one inline policy
    and an access key, made through moto's IAM backend (so no request is counted or signed)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    name, policy = body.get("UserName"), body.get("PolicyDocument")
    if not isinstance(name, str) or not isinstance(policy, (dict, str)):
        return 400, {"error": "UserName (string) and PolicyDocument (object) are required"}
    backend = iam_backends[body.get("account_id", DEFAULT_ACCOUNT_ID)]["aws"]
    try:
        backend.create_user(region_name="us-east-1", user_name=name)
        backend.put_user_policy(name, "kiro-onboard", policy if isinstance(policy, str) else json.dumps(policy))
        key = backend.create_access_key(name)
    except Exception as e:  # moto's IAM errors (malformed policy, duplicate user)
        return 400, {"error": f"{type(e).__name__}: {e}"}
    return 200, {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}


def _enforce_iam() -> dict[str, Any]:
    """Handler of ``POST /_control/enforce-iam`` (test control): from the next request on, moto
    checks every request's signature and IAM policies, as ``INITIAL_NO_AUTH_ACTION_COUNT``
    does after that many requests (moto docs, "IAM-like Access Control").  Setting the count
    to the requests served so far lets a test set up users and resources first, however many
    requests that takes."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    settings.INITIAL_NO_AUTH_ACTION_COUNT = ActionAuthenticatorMixin.request_count
    return {"enforced_after": ActionAuthenticatorMixin.request_count}


class KiroControlMiddleware:
    """WSGI wrapper: serves ``/_control/*`` test-control endpoints, passes the rest to moto."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        if sso_oidc.handles(path, method, environ):
            return self.sso_oidc(environ, start_response, path)
        if path == "/moto-api/reset":
            sso_oidc.reset()
        if not path.startswith("/_control/"):
            return self.app(environ, start_response)
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        handlers = {
            "/_control/sso-encryption": _set_sso_encryption,
            "/_control/sso-regions": _set_sso_regions,
            "/_control/iam-user": _create_iam_user,
            "/_control/application": _create_application,
            "/_control/scim-user": _create_scim_user,
            "/_control/device/approve": sso_oidc.approve,
            "/_control/sign-in-settings": sso_oidc.sign_in_settings,
        }
        if path == "/_control/enforce-iam" and request.method == "POST":
            status, payload = 200, _enforce_iam()
        elif path == "/_control/device/issued" and request.method == "GET":
            status, payload = 200, sso_oidc.issued()
        elif path in handlers and request.method == "POST":
            try:
                body = json.loads(request.get_data(as_text=True) or "{}")
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
            except ValueError as e:
                status, payload = 400, {"error": f"invalid JSON body: {e}"}
            else:
                status, payload = handlers[path](body)
        else:
            status, payload = 404, {"error": f"unknown control endpoint {request.method} {path}"}
        response = Response(json.dumps(payload), status=status, mimetype="application/json")
        return response(environ, start_response)

    def sso_oidc(self, environ: dict[str, Any], start_response: Any, path: str) -> Any:
        """SSO OIDC (tests/servers/sso_oidc.py): moto has none, and routes by signature, which
        these unsigned operations do not carry."""
        from werkzeug.wrappers import Request, Response

        try:
            body = json.loads(Request(environ).get_data(as_text=True) or "{}")
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as e:
            status, headers, payload = 400, {"X-Amzn-ErrorType": "InvalidRequestException"}, {
                "error": "invalid_request", "error_description": f"invalid JSON body: {e}"}
        else:
            status, headers, payload = sso_oidc.serve(path, body)
        response = Response(json.dumps(payload), status=status, mimetype="application/json", headers=headers)
        return response(environ, start_response)


# ---------------------------------------------------------------------------------------
# identitystore: users provisioned by an external IdP (SCIM) carry ExternalIds
# ---------------------------------------------------------------------------------------

# (account, region, identity store id, user id) -> ExternalIds, for users a test says were
# provisioned over SCIM.  moto has no SCIM endpoint and keeps no ExternalIds ("External Ids are
# not implemented", moto/identitystore/models.py).
_EXTERNAL_IDS: dict[tuple[str, str], list[dict[str, str]]] = {}


def patch_identitystore_external_ids() -> None:
    """Adds ``ExternalIds`` to ListUsers / DescribeUser answers for SCIM-provisioned users.

    Real AWS (botocore identitystore 2020-06-15, ``User.ExternalIds``: list of
    ``{Issuer, Id}``): a user that an external identity provider provisions through IAM
    Identity Center's SCIM endpoint carries the IdP's id for it; users made with the
    Identity Store ``CreateUser`` API carry none.  moto 5.2.5 never returns the member.

    Additive: the wrapped answers are moto's own JSON with one member added, only for
    users created through the ``POST /_control/scim-user`` test control.
    """
    from moto.identitystore.responses import IdentityStoreResponse

    original_list = IdentityStoreResponse.list_users
    original_describe = IdentityStoreResponse.describe_user

    def with_external_ids(user: dict[str, Any]) -> dict[str, Any]:
        ids = _EXTERNAL_IDS.get((user.get("IdentityStoreId", ""), user.get("UserId", "")))
        if ids:
            user["ExternalIds"] = copy.deepcopy(ids)
        return user

    def list_users(self: Any) -> str:
        body = json.loads(original_list(self))
        store = self._get_param("IdentityStoreId")
        for user in body.get("Users", []):
            user.setdefault("IdentityStoreId", store)
            with_external_ids(user)
        return json.dumps(body)

    def describe_user(self: Any) -> str:
        body = json.loads(original_describe(self))
        body.setdefault("IdentityStoreId", self._get_param("IdentityStoreId"))
        return json.dumps(with_external_ids(body))

    IdentityStoreResponse.list_users = list_users  # type: ignore[method-assign]
    IdentityStoreResponse.describe_user = describe_user  # type: ignore[method-assign]


def _create_scim_user(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Handler of ``POST /_control/scim-user`` (test control, not an AWS API): a user as an
    external IdP provisions it over SCIM (with ``ExternalIds``)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.identitystore.models import identitystore_backends

    region = body.get("region", "us-east-1")
    account_id = body.get("account_id", DEFAULT_ACCOUNT_ID)
    store = body.get("IdentityStoreId")
    user_name = body.get("UserName")
    if not isinstance(store, str) or not isinstance(user_name, str) or not user_name:
        return 400, {"error": "IdentityStoreId and UserName are required strings"}
    email = body.get("Email", f"{user_name}@example.com")
    backend = identitystore_backends[account_id][region]
    user_id, _ = backend.create_user(
        identity_store_id=store,
        user_name=user_name,
        name={"GivenName": body.get("GivenName", "Scim"), "FamilyName": body.get("FamilyName", "User")},
        display_name=body.get("DisplayName", user_name),
        nick_name=None,
        profile_url=None,
        emails=[{"Value": email, "Type": "work", "Primary": True}],
        addresses=None,
        phone_numbers=None,
        user_type=None,
        title=None,
        preferred_language=None,
        locale=None,
        timezone=None,
    )
    external = body.get("ExternalId", {"Issuer": "https://scim.example.com", "Id": f"ext-{user_name}"})
    _EXTERNAL_IDS[(store, user_id)] = [{"Issuer": str(external["Issuer"]), "Id": str(external["Id"])}]
    return 200, {"UserId": user_id, "ExternalIds": _EXTERNAL_IDS[(store, user_id)]}


# ---------------------------------------------------------------------------------------
# route53: ChangeResourceRecordSets checks DELETE and CREATE against the current sets
# ---------------------------------------------------------------------------------------


def patch_route53_exact_changes() -> None:
    """Makes ChangeResourceRecordSets refuse a batch the way Route 53 does.

    Real AWS (Route 53 API reference, ChangeResourceRecordSets and
    https://docs.aws.amazon.com/Route53/latest/APIReference/API_Change.html): "DELETE:
    Deletes an existing resource record set that has the specified values" -- a DELETE
    whose TTL or values differ from the current set fails with InvalidChangeBatch ("Tried
    to delete resource record set [name='...', type='TXT'] but the values provided do not
    match the current values"); "CREATE: Creates a resource record set that has the
    specified values" -- over an existing set it fails ("Tried to create resource record
    set [name='...', type='TXT'] but it already exists").  A batch is transactional: on
    any error nothing of it is applied.

    moto 5.2.5 gap: DELETE is checked against the history of earlier writes, not the
    current set (a stale DELETE passes and drops whatever is there), and CREATE over an
    existing set is accepted.  The patch only adds this check in front of moto's own
    method, which then runs unchanged.
    """
    from moto.route53.exceptions import Route53ClientError
    from moto.route53.models import Route53Backend

    def InvalidChangeBatch(message: str) -> Exception:  # noqa: N802 - the error code's name
        return Route53ClientError("InvalidChangeBatch", message)

    original = Route53Backend.change_resource_record_sets

    def key_of(record_set: dict[str, Any]) -> tuple[str, str, str]:
        return (
            str(record_set.get("Name", "")).rstrip(".").lower(),
            str(record_set.get("Type", "")),
            str(record_set.get("SetIdentifier") or ""),
        )

    def values_of(record_set: dict[str, Any]) -> list[str]:
        return [r["Value"] if isinstance(r, dict) else str(r) for r in record_set.get("ResourceRecords") or []]

    def change_resource_record_sets(self: Any, zoneid: str, change_list: list[dict[str, Any]]) -> None:
        zone = self.get_hosted_zone(zoneid)
        current = {
            key_of({"Name": rr.name, "Type": rr.type, "SetIdentifier": rr.set_identifier}): rr
            for rr in zone.rrsets
        }
        present = {k: True for k in current}
        for change in change_list:
            record_set = change.get("ResourceRecordSet", {})
            key = key_of(record_set)
            label = f"[name='{key[0]}.', type='{key[1]}'" + (f", set-identifier='{key[2]}'" if key[2] else "") + "]"
            if change.get("Action") == "DELETE":
                rr = current.get(key) if present.get(key) else None
                if rr is None:
                    raise InvalidChangeBatch(
                        f"[Tried to delete resource record set {label} but it was not found]"
                    )
                if record_set.get("AliasTarget") is None and (
                    str(rr.ttl) != str(record_set.get("TTL")) or list(rr.records or []) != values_of(record_set)
                ):
                    raise InvalidChangeBatch(
                        f"[Tried to delete resource record set {label} but the values provided do not match the current values]"
                    )
                present[key] = False
            elif change.get("Action") == "CREATE":
                if present.get(key):
                    raise InvalidChangeBatch(
                        f"[Tried to create resource record set {label} but it already exists]"
                    )
                present[key] = True
        # moto's own CREATE check looks for an identical CREATE in its journal of earlier
        # changes and then refuses if any record set sorts at or after the name -- so a second
        # CREATE of a set deleted meanwhile fails, which AWS accepts.  The check above has
        # established that the set does not exist, where CREATE and UPSERT do the same.
        changes = [
            dict(change, Action="UPSERT") if change.get("Action") == "CREATE" else change for change in change_list
        ]
        return original(self, zoneid, changes)

    Route53Backend.change_resource_record_sets = change_resource_record_sets  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------
# sso-admin: ListApplications / ListApplicationAssignments (a Kiro profile on Identity Center)
# ---------------------------------------------------------------------------------------

KIRO_APPLICATION_PROVIDER = "arn:aws:sso::aws:applicationProvider/codewhisperer"

# (account, region) -> applications, each {"Application": {...}, "Assignments": [...]}.
_APPLICATIONS: dict[tuple[str, str], list[dict[str, Any]]] = {}


def patch_ssoadmin_applications() -> None:
    """sso-admin ``ListApplications`` and ``ListApplicationAssignments``.

    Real AWS (botocore sso-admin 2020-07-20): ListApplications{InstanceArn*, MaxResults,
    NextToken, Filter{ApplicationAccount, ApplicationProvider}} -> Applications[{
    ApplicationArn, ApplicationProviderArn, Name, ApplicationAccount, InstanceArn, Status,
    ...}], NextToken; ListApplicationAssignments{ApplicationArn*, MaxResults, NextToken} ->
    ApplicationAssignments[{ApplicationArn, PrincipalId, PrincipalType}], NextToken (an
    unknown application -> ResourceNotFoundException).  A Kiro (Q Developer) profile on
    Identity Center is an AWS managed application with provider
    ``arn:aws:sso::aws:applicationProvider/codewhisperer``, its subscribed groups are its
    assignments (aws-samples IdC application discovery sample).

    moto 5.2.5 gap: neither operation exists.  Applications are made by the test control
    ``POST /_control/application`` (the Kiro console creates them on AWS).  No paging: every
    application and assignment on one page.
    """
    from moto.ssoadmin.exceptions import ResourceNotFoundException
    from moto.ssoadmin.responses import SSOAdminResponse

    def list_applications(self: Any) -> str:
        instance = self._get_param("InstanceArn")
        wanted = (self._get_param("Filter") or {}).get("ApplicationProvider")
        apps = [
            copy.deepcopy(a["Application"])
            for a in _APPLICATIONS.get((self.current_account, self.region), [])
            if a["Application"]["InstanceArn"] == instance
            and (wanted is None or a["Application"]["ApplicationProviderArn"] == wanted)
        ]
        return json.dumps({"Applications": apps})

    def list_application_assignments(self: Any) -> str:
        arn = self._get_param("ApplicationArn")
        for app in _APPLICATIONS.get((self.current_account, self.region), []):
            if app["Application"]["ApplicationArn"] == arn:
                return json.dumps({"ApplicationAssignments": copy.deepcopy(app["Assignments"])})
        raise ResourceNotFoundException(message=f"Application {arn} not found")

    _add_method(SSOAdminResponse, "list_applications", list_applications)
    _add_method(SSOAdminResponse, "list_application_assignments", list_application_assignments)


def _create_application(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Handler of ``POST /_control/application`` (test control): an Identity Center application
    such as the one the Kiro console creates for a profile, with group assignments."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ssoadmin.models import ssoadmin_backends

    region = body.get("region", "us-east-1")
    account_id = body.get("account_id", DEFAULT_ACCOUNT_ID)
    instance = ssoadmin_backends[account_id][region].instances[0]
    apps = _APPLICATIONS.setdefault((account_id, region), [])
    arn = f"arn:aws:sso::{account_id}:application/{instance.instance_arn.rsplit('/', 1)[-1]}/apl-{len(apps):016x}"
    application = {
        "ApplicationArn": arn,
        "ApplicationProviderArn": body.get("ApplicationProviderArn", KIRO_APPLICATION_PROVIDER),
        "Name": body.get("Name", "QDevProfile-us-east-1"),
        "ApplicationAccount": account_id,
        "InstanceArn": instance.instance_arn,
        "Status": body.get("Status", "ENABLED"),
    }
    groups = body.get("GroupIds", [])
    if not isinstance(groups, list):
        return 400, {"error": "GroupIds must be a list of group ids"}
    names = body.get("GroupNames", [])
    if not isinstance(names, list):
        return 400, {"error": "GroupNames must be a list of group display names"}
    if names:
        from moto.identitystore.models import identitystore_backends

        store = identitystore_backends[account_id][region].identity_stores.get(instance.identity_store_id)
        by_name = {g.DisplayName: g.GroupId for g in (store.groups.values() if store else [])}
        missing = [n for n in names if n not in by_name]
        if missing:
            return 400, {"error": f"no group named {missing} in {instance.identity_store_id}"}
        groups = groups + [by_name[n] for n in names]
    users = body.get("UserIds", [])
    if not isinstance(users, list):
        return 400, {"error": "UserIds must be a list of user ids"}
    assignments = [{"ApplicationArn": arn, "PrincipalId": g, "PrincipalType": "GROUP"} for g in groups]
    assignments += [{"ApplicationArn": arn, "PrincipalId": u, "PrincipalType": "USER"} for u in users]
    apps.append({"Application": application, "Assignments": assignments})
    return 200, {"ApplicationArn": arn}


# ---------------------------------------------------------------------------------------
# sso-admin operations that moto 5.2.5 already implements (no patch, checked at startup)
# ---------------------------------------------------------------------------------------

_SSOADMIN_ALREADY_IMPLEMENTED = (
    "list_account_assignments_for_principal",
    "create_permission_set",
    "create_account_assignment",
    "list_account_assignments",
)


def check_ssoadmin_existing() -> None:
    """Warn if an sso-admin operation the tests rely on is missing from this moto.

    moto 5.2.5 implements ListAccountAssignmentsForPrincipal (input InstanceArn,
    PrincipalId, PrincipalType, Filter{AccountId}, MaxResults, NextToken; output
    AccountAssignments[{AccountId, PermissionSetArn, PrincipalId, PrincipalType}],
    NextToken), CreatePermissionSet, CreateAccountAssignment and ListAccountAssignments,
    so nothing is patched for them.
    """
    from moto.ssoadmin.responses import SSOAdminResponse

    for name in _SSOADMIN_ALREADY_IMPLEMENTED:
        if not callable(getattr(SSOAdminResponse, name, None)):
            _warn(f"sso-admin {name} is not implemented by this moto")


def apply_patches() -> None:
    import moto

    if moto.__version__ != MOTO_VERSION:
        _warn(f"patches were written for moto {MOTO_VERSION}, running {moto.__version__}")
    patch_identitystore_update_user()
    patch_identitystore_update_group()
    patch_ssoadmin_describe_instance()
    patch_ssoadmin_instance_regions()
    patch_identitystore_external_ids()
    patch_route53_exact_changes()
    patch_ssoadmin_applications()
    patch_iam_resource_arns()
    check_ssoadmin_existing()


# ---------------------------------------------------------------------------------------
# server
# ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="also shut down when stdin reaches EOF (parent went away)",
    )
    args = parser.parse_args(argv)

    stop = stop_on_signals()

    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.WARNING)

    from werkzeug.serving import make_server

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    apply_patches()

    app = KiroControlMiddleware(DomainDispatcherApplication(create_backend_app))
    try:
        server = make_server(
            args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler
        )
    except OSError as e:
        _warn(f"cannot listen on {args.host}:{args.port}: {e}")
        return 2
    port = server.server_address[1]
    os.environ.setdefault("MOTO_PORT", str(port))

    return serve(server, stop, args.exit_on_stdin_eof, "moto_server")


if __name__ == "__main__":
    sys.exit(main())
