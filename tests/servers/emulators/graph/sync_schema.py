"""The synchronization job's default schema (the customappsso template)."""

from __future__ import annotations

import json
from typing import Any, List

from .common import JSON, iso, new_guid


# ---------------------------------------------------------------------------------------
# Synchronization / provisioning
# (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-configuration-api)
# ---------------------------------------------------------------------------------------

AAD_DIR = "Azure Active Directory"
TARGET_DIR = "customappsso"  # https://learn.microsoft.com/en-us/graph/synchronization-configure-with-custom-target-attributes
SCIM_USER_OBJ = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCIM_GROUP_OBJ = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
SYNC_SECRET_KEYS = {
    "BaseAddress", "SecretToken", "SyncAll", "SyncNotificationSettings",
    "SkipOutOfScopeDeletions", "ClientIdentifier", "ClientSecret", "UserName", "Password",
    "Domain", "TenantId", "InstanceName", "AuthenticationType", "Oauth2AccessTokenCreationTime",
    "Oauth2AccessToken", "Oauth2RefreshToken", "Oauth2TokenExchangeUri", "Oauth2ClientSecret",
    "Oauth2ClientId", "Oauth2AuthorizationUri", "HardDeletesEnabled", "Server",
    "PerformInboundEntitlementGrants", "SyncAgentCompatibilityKey", "SyncAgentADContainer",
    "ValidateDomain", "TestReferences", "ConnectionString", "NotificationEmail",
}
FLOW_TYPES = {"Always", "ObjectAddOnly", "MultiValueAddOnly", "ValueAddOnly", "AttributeAddOnly"}
FLOW_BEHAVIORS = {"FlowWhenChanged", "FlowAlways"}
SOURCE_TYPES = {"Attribute", "Constant", "Function"}
NEVER = "0001-01-01T00:00:00Z"


def _attr(name: str, typ: str = "String", **kw: Any) -> JSON:
    a = {"anchor": False, "apiExpressions": [], "caseExact": False, "defaultValue": None,
         "flowNullValues": False, "metadata": [], "multivalued": False, "mutability": "ReadWrite",
         "name": name, "referencedObjects": [], "required": False, "type": typ}
    a.update(kw)
    return a


def _src_attr(name: str) -> JSON:
    return {"expression": f"[{name}]", "name": name, "parameters": [], "type": "Attribute"}


def _const(v: str) -> JSON:
    return {"expression": json.dumps(v), "name": v, "parameters": [], "type": "Constant"}


def _amap(target: str, source: JSON, matching: int = 0, flow: str = "Always") -> JSON:
    return {"defaultValue": "", "exportMissingReferences": False,
            "flowBehavior": "FlowWhenChanged", "flowType": flow, "matchingPriority": matching,
            "source": source, "targetAttributeName": target}


def _ref(*objs: str) -> List[JSON]:
    return [{"referencedObjectName": o, "referencedProperty": None} for o in objs]


def default_schema(job_id: str, user_enabled: bool, group_enabled: bool) -> JSON:
    """The scim template's default schema: the non-gallery mappings of https://learn.microsoft.com/en-us/graph/synchronization-configure-with-custom-target-attributes, [E-scim],
    including everything Kiro's guide (seed, 'Remove unsupported attributes') tells the admin
    to edit: externalId<-mailNickname, the enterprise extension and phoneNumbers mappings."""
    src_user = [_attr("objectId", anchor=True, mutability="ReadOnly"), _attr("userPrincipalName"),
                _attr("mailNickname"), _attr("displayName"), _attr("givenName"), _attr("surname"),
                _attr("mail"), _attr("jobTitle"), _attr("department"), _attr("employeeId"),
                _attr("manager", "Reference", referencedObjects=_ref("User")),
                _attr("telephoneNumber"), _attr("mobile"), _attr("facsimileTelephoneNumber"),
                _attr("IsSoftDeleted", "Boolean"), _attr("accountEnabled", "Boolean"),
                _attr("preferredLanguage"), _attr("physicalDeliveryOfficeName"),
                _attr("streetAddress"), _attr("city"), _attr("state"), _attr("postalCode"),
                _attr("country"), _attr("usageLocation")]
    src_group = [_attr("objectId", anchor=True, mutability="ReadOnly"), _attr("displayName"),
                 _attr("mailNickname"), _attr("description"), _attr("mail"),
                 _attr("members", "Reference", multivalued=True,
                       referencedObjects=_ref("User", "Group"))]
    tgt_user = [_attr("id", anchor=True, mutability="ReadOnly"),
                _attr("userName", required=True, caseExact=False), _attr("externalId"),
                _attr("active", "Boolean"), _attr("displayName"), _attr("title"),
                _attr('emails[type eq "work"].value'), _attr("preferredLanguage"),
                _attr("name.givenName"), _attr("name.familyName"), _attr("name.formatted"),
                _attr('addresses[type eq "work"].formatted'),
                _attr('addresses[type eq "work"].streetAddress'),
                _attr('addresses[type eq "work"].locality'),
                _attr('addresses[type eq "work"].region'),
                _attr('addresses[type eq "work"].postalCode'),
                _attr('addresses[type eq "work"].country'),
                _attr('phoneNumbers[type eq "work"].value'),
                _attr('phoneNumbers[type eq "mobile"].value'),
                _attr('phoneNumbers[type eq "fax"].value'),
                _attr(ENT + "employeeNumber"), _attr(ENT + "department"),
                _attr(ENT + "manager", "Reference", referencedObjects=_ref(SCIM_USER_OBJ)),
                _attr("roles[primary eq \"True\"].value"), _attr("nickName")]
    tgt_group = [_attr("id", anchor=True, mutability="ReadOnly"),
                 _attr("displayName", required=True), _attr("externalId"),
                 _attr("members", "Reference", multivalued=True,
                       referencedObjects=_ref(SCIM_USER_OBJ, SCIM_GROUP_OBJ))]
    switch = {"expression": 'Switch([IsSoftDeleted], , "False", "True", "True", "False")',
              "name": "Switch", "type": "Function",
              "parameters": [{"key": "source", "value": _src_attr("IsSoftDeleted")},
                             {"key": "defaultValue", "value": _const("")},
                             {"key": "key", "value": _const("False")},
                             {"key": "value", "value": _const("True")},
                             {"key": "key", "value": _const("True")},
                             {"key": "value", "value": _const("False")}]}
    join = {"expression": 'Join(" ", [givenName], [surname])', "name": "Join", "type": "Function",
            "parameters": [{"key": "separator", "value": _const(" ")},
                           {"key": "source", "value": _src_attr("givenName")},
                           {"key": "source", "value": _src_attr("surname")}]}
    user_maps = [
        _amap("userName", _src_attr("userPrincipalName"), matching=1),
        _amap("active", switch),
        _amap("displayName", _src_attr("displayName")),
        _amap("title", _src_attr("jobTitle")),
        _amap('emails[type eq "work"].value', _src_attr("mail")),
        _amap("preferredLanguage", _src_attr("preferredLanguage")),
        _amap("name.givenName", _src_attr("givenName")),
        _amap("name.familyName", _src_attr("surname")),
        _amap("name.formatted", join),
        _amap('addresses[type eq "work"].formatted', _src_attr("physicalDeliveryOfficeName")),
        _amap('addresses[type eq "work"].streetAddress', _src_attr("streetAddress")),
        _amap('addresses[type eq "work"].locality', _src_attr("city")),
        _amap('addresses[type eq "work"].region', _src_attr("state")),
        _amap('addresses[type eq "work"].postalCode', _src_attr("postalCode")),
        _amap('addresses[type eq "work"].country', _src_attr("country")),
        _amap('phoneNumbers[type eq "work"].value', _src_attr("telephoneNumber")),
        _amap('phoneNumbers[type eq "mobile"].value', _src_attr("mobile")),
        _amap('phoneNumbers[type eq "fax"].value', _src_attr("facsimileTelephoneNumber")),
        _amap("externalId", _src_attr("mailNickname")),
        _amap(ENT + "employeeNumber", _src_attr("employeeId")),
        _amap(ENT + "department", _src_attr("department")),
        _amap(ENT + "manager", _src_attr("manager")),
    ]
    group_maps = [
        _amap("displayName", _src_attr("displayName"), matching=1),
        _amap("externalId", _src_attr("objectId")),
        _amap("members", _src_attr("members")),
    ]

    def obj(name: str, attrs: List[JSON]) -> JSON:
        return {"attributes": attrs, "metadata": [], "name": name, "supportedApis": []}

    version = "Date:" + iso() + "~User:emulator"
    return {
        "id": job_id, "version": version,
        "directories": [
            {"id": "66e4a8cc-1b7b-435e-95f8-f06cea133828", "name": AAD_DIR, "version": version,
             "discoverabilities": "AttributeNames", "discoveryDateTime": None, "readOnly": True,
             "objects": [obj("User", src_user), obj("Group", src_group)]},
            {"id": "8ffa6169-f354-4751-9b77-9c00765be92d", "name": TARGET_DIR, "version": version,
             "discoverabilities": "AttributeDataTypes, AttributeNames, AttributeReadOnly",
             "discoveryDateTime": None, "readOnly": False,
             "objects": [obj(SCIM_USER_OBJ, tgt_user), obj(SCIM_GROUP_OBJ, tgt_group)]},
        ],
        "synchronizationRules": [{
            "id": new_guid(),
            "name": "USER_OUTBOUND_USER", "editable": True, "priority": 1,
            "sourceDirectoryName": AAD_DIR, "targetDirectoryName": TARGET_DIR,
            "containerFilter": {"includedContainers": []},
            "groupFilter": {"includedGroups": []},
            "metadata": [{"key": "defaultSourceObjectMappings", "value": "..."},
                         {"key": "disableMonitoringForChanges", "value": "false"},
                         {"key": "Synchronization.Action", "value": "Provision"}],
            "objectMappings": [
                {"attributeMappings": user_maps, "enabled": user_enabled,
                 "flowTypes": "Add, Update, Delete", "metadata": [],
                 "name": "Provision Microsoft Entra ID Users", "scope": None,
                 "sourceObjectName": "User", "targetObjectName": SCIM_USER_OBJ},
                {"attributeMappings": group_maps, "enabled": group_enabled,
                 "flowTypes": "Add, Update, Delete", "metadata": [],
                 "name": "Provision Microsoft Entra ID Groups", "scope": None,
                 "sourceObjectName": "Group", "targetObjectName": SCIM_GROUP_OBJ},
            ],
        }],
    }


def status_template() -> JSON:
    return {"code": "NotConfigured", "countSuccessiveCompleteFailures": 0,
            "escrowsPruned": False, "lastExecution": None, "lastSuccessfulExecution": None,
            "lastSuccessfulExecutionWithExports": None, "progress": [], "quarantine": None,
            "steadyStateFirstAchievedTime": NEVER, "steadyStateLastAchievedTime": NEVER,
            "synchronizedEntryCountByType": [], "troubleshootingUrl": None}
