"""Plain app registrations: `POST /applications` and `POST /servicePrincipals`, how an app made in
"App registrations → New registration" (not from a template) and its enterprise app come to be
(https://learn.microsoft.com/en-us/graph/api/application-post-applications?view=graph-rest-1.0,
https://learn.microsoft.com/en-us/graph/api/serviceprincipal-post-serviceprincipals?view=graph-rest-1.0)."""

from __future__ import annotations

import copy
from typing import Callable

from .common import JSON, iso, new_guid, strip_private
from .context import Ctx, Response
from .errors import GraphError, bad_request
from .query import WRITE_APPS
from .state import State


def _plain_application(name: str, tenant_domain: str) -> JSON:
    """An application as `POST /applications {"displayName"}` answers it: no template
    (`applicationTemplateId` null), no scopes, no app roles, no home page, no tags
    (https://learn.microsoft.com/en-us/graph/api/resources/application?view=graph-rest-1.0)."""
    return {
        "id": new_guid(), "deletedDateTime": None, "appId": new_guid(),
        "applicationTemplateId": None, "disabledByMicrosoftStatus": None,
        "createdDateTime": iso(), "displayName": name, "description": None,
        "groupMembershipClaims": None, "identifierUris": [], "isDeviceOnlyAuthSupported": None,
        "isFallbackPublicClient": None, "nativeAuthenticationApisEnabled": None, "notes": None,
        "publisherDomain": tenant_domain, "serviceManagementReference": None,
        "signInAudience": "AzureADMyOrg", "tags": [], "tokenEncryptionKeyId": None,
        "samlMetadataUrl": None, "defaultRedirectUri": None, "certification": None,
        "optionalClaims": None, "servicePrincipalLockConfiguration": None,
        "requestSignatureVerification": None, "addIns": [],
        "api": {"acceptMappedClaims": None, "knownClientApplications": [],
                "requestedAccessTokenVersion": None, "oauth2PermissionScopes": [],
                "preAuthorizedApplications": []},
        "appRoles": [],
        "info": {"logoUrl": None, "marketingUrl": None, "privacyStatementUrl": None,
                 "supportUrl": None, "termsOfServiceUrl": None},
        "keyCredentials": [],
        "parentalControlSettings": {"countriesBlockedForMinors": [], "legalAgeGroupRule": "Allow"},
        "passwordCredentials": [], "publicClient": {"redirectUris": []},
        "requiredResourceAccess": [],
        "verifiedPublisher": {"displayName": None, "verifiedPublisherId": None,
                              "addedDateTime": None},
        "web": {"homePageUrl": None, "logoutUrl": None, "redirectUris": [],
                "implicitGrantSettings": {"enableAccessTokenIssuance": False,
                                          "enableIdTokenIssuance": False},
                "redirectUriSettings": []},
        "spa": {"redirectUris": []},
    }


def _plain_service_principal(app: JSON, tenant_id: str) -> JSON:
    """A service principal as `POST /servicePrincipals {"appId"}` answers it: it points to the app
    by `appId` and copies its name, scopes and roles; no template, assignment not required, no
    tags (the portal's own tags are the portal's, not Graph's)
    (https://learn.microsoft.com/en-us/graph/api/resources/serviceprincipal?view=graph-rest-1.0)."""
    return {
        "id": new_guid(), "deletedDateTime": None, "accountEnabled": True, "alternativeNames": [],
        "appDisplayName": app["displayName"], "appDescription": None, "appId": app["appId"],
        "applicationTemplateId": None, "appOwnerOrganizationId": tenant_id,
        "appRoleAssignmentRequired": False, "description": None,
        "disabledByMicrosoftStatus": None, "displayName": app["displayName"], "homepage": None,
        "loginUrl": None, "logoutUrl": None, "notes": None, "notificationEmailAddresses": [],
        "preferredSingleSignOnMode": None, "preferredTokenSigningKeyThumbprint": None,
        "replyUrls": [], "servicePrincipalNames": [app["appId"]] + list(app["identifierUris"]),
        "servicePrincipalType": "Application", "signInAudience": app["signInAudience"],
        "tags": [], "tokenEncryptionKeyId": None, "samlSingleSignOnSettings": None, "addIns": [],
        "appRoles": copy.deepcopy(app["appRoles"]), "info": copy.deepcopy(app["info"]),
        "keyCredentials": [],
        "oauth2PermissionScopes": copy.deepcopy(app["api"]["oauth2PermissionScopes"]),
        "passwordCredentials": [], "resourceSpecificApplicationPermissions": [],
        "verifiedPublisher": copy.deepcopy(app["verifiedPublisher"]),
        "_app": app["id"],
    }


class RegistrationMixin:
    s: State
    require: Callable[..., None]
    _apply_patch: Callable[[Ctx, JSON], None]
    SP_WRITABLE: set

    def create_application(self, ctx: Ctx) -> Response:
        """201 with the application; `displayName` is required; the other properties of the body
        are those an update may set, checked as an update checks them (the create page above;
        https://learn.microsoft.com/en-us/graph/api/application-update?view=graph-rest-1.0)."""
        self.require(ctx, WRITE_APPS, admin=True)
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise bad_request("The request payload must be a JSON object.")
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip() or len(name) > 256:
            raise bad_request("Invalid value specified for property 'displayName' of resource "
                              "'Application'.")
        app = _plain_application(name, self.s.tenant_domain)
        self._apply_patch(ctx, app)  # the body's other properties, validated like a PATCH
        self.s.applications[app["id"]] = app
        self.s.replication_hide("application", app)
        out = {"@odata.context": ctx.odata("applications/$entity")}
        out.update(strip_private(app))
        return 201, [("Location", f"{ctx.base}/v1.0/applications/{app['id']}")], out

    def create_sp(self, ctx: Ctx) -> Response:
        """201 with the service principal of the app named by `appId` (required, the create page
        above); an app that has one already → 409 as Graph answers it (quoted in
        https://github.com/Azure/reliable-web-app-pattern-java/issues/185); an appId no app has
        → 400."""
        self.require(ctx, WRITE_APPS, admin=True)
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise bad_request("The request payload must be a JSON object.")
        body = {k: v for k, v in body.items() if not k.startswith("@odata.")}
        for k, v in body.items():
            if k != "appId" and k not in self.SP_WRITABLE:
                raise bad_request(f"Property '{k}' is read-only and cannot be set."
                                  if k == "applicationTemplateId" else
                                  f"Property '{k}' does not exist as a declared property or "
                                  "extension property.")
            if k in ("appRoleAssignmentRequired", "accountEnabled") and not isinstance(v, bool):
                raise bad_request(f"Invalid value specified for property '{k}' of resource "
                                  "'ServicePrincipal'.")
        app_id = body.get("appId")
        if not isinstance(app_id, str) or not app_id:
            raise bad_request("Property 'appId' is required when creating the entity.")
        app = next((a for a in self.s.applications.values()
                    if a["appId"] == app_id.lower()), None)
        if app is None:
            raise bad_request(f"The appId '{app_id}' of the service principal does not reference "
                              "a valid application object.")
        if any(p["appId"] == app["appId"] for p in self.s.service_principals.values()):
            raise GraphError(409, "Request_MultipleObjectsWithSameKeyValue",
                             "The service principal cannot be created, updated, or restored "
                             f"because the service principal name {app['appId']} is already in use.")
        sp = _plain_service_principal(app, self.s.tenant_id)
        for k, v in body.items():
            if k != "appId":
                sp[k] = copy.deepcopy(v)
        # As for an instantiated app's: not ready for sync calls and assignments at once.
        sp["_sync_transient"] = int(self.s.config["new_sp_sync_transient_count"])
        sp["_assign_transient"] = int(self.s.config["new_sp_assignment_transient_count"])
        app["_sp"] = sp["id"]
        self.s.service_principals[sp["id"]] = sp
        self.s.replication_hide("servicePrincipal", sp)
        out = {"@odata.context": ctx.odata("servicePrincipals/$entity")}
        out.update(strip_private(sp))
        return 201, [("Location", f"{ctx.base}/v1.0/servicePrincipals/{sp['id']}")], out
