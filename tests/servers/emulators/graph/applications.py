"""Application templates, applications and service principals."""

from __future__ import annotations

import copy
import re
from typing import Any, Callable, List, Optional, Tuple
from urllib.parse import urlsplit

from .common import (CUSTOM_HOMEPAGE, CUSTOM_TEMPLATE_ID, JSON, ROLE_MSIAM_ID, ROLE_USER_ID, is_guid, iso, new_guid, strip_private)
from .context import Ctx, Response, no_content
from .errors import GraphError, bad_request, not_found
from .query import QueryMixin, READ_APPS, WRITE_APPS
from .state import State


# ---------------------------------------------------------------------------------------
# Applications, service principals, instantiate
# (https://learn.microsoft.com/en-us/graph/api/applicationtemplate-instantiate?view=graph-rest-1.0,
# https://learn.microsoft.com/en-us/graph/api/application-list?view=graph-rest-1.0,
# https://learn.microsoft.com/en-us/graph/api/application-update?view=graph-rest-1.0)
# ---------------------------------------------------------------------------------------

APP_FILTER = {"id": "str", "appId": "str", "displayName": "str", "applicationTemplateId": "str",
              "publisherDomain": "str", "signInAudience": "str"}
SP_FILTER = {"id": "str", "appId": "str", "displayName": "str", "applicationTemplateId": "str",
             "servicePrincipalType": "str", "accountEnabled": "bool",
             "appRoleAssignmentRequired": "bool"}
TEMPLATE_FILTER = {"id": "str", "displayName": "str"}

CUSTOM_TEMPLATE: JSON = {
    "id": CUSTOM_TEMPLATE_ID, "displayName": "Custom", "homePageUrl": None,
    "supportedSingleSignOnModes": ["password", "saml", "notSupported", "oidc"],
    "supportedProvisioningTypes": ["sync"], "logoUrl": None, "categories": [],
    "publisher": "Microsoft Corporation",
    "description": "Integrate any other application that you don't find in the gallery "
                   "(Non-gallery)",
}

APP_WRITABLE = {"displayName", "description", "identifierUris", "api", "publicClient", "web",
                "spa", "isFallbackPublicClient", "signInAudience", "tags", "notes",
                "requiredResourceAccess", "groupMembershipClaims", "optionalClaims", "info",
                "appRoles", "isDeviceOnlyAuthSupported", "serviceManagementReference",
                "defaultRedirectUri", "parentalControlSettings", "tokenEncryptionKeyId"}
APP_READONLY = {"id", "appId", "applicationTemplateId", "createdDateTime", "publisherDomain",
                "deletedDateTime", "disabledByMicrosoftStatus", "keyCredentials",
                "passwordCredentials", "verifiedPublisher", "certification", "addIns",
                "samlMetadataUrl", "servicePrincipalLockConfiguration",
                "requestSignatureVerification", "nativeAuthenticationApisEnabled"}
API_KEYS = {"acceptMappedClaims", "knownClientApplications", "oauth2PermissionScopes",
            "preAuthorizedApplications", "requestedAccessTokenVersion"}
SCOPE_KEYS = {"id", "value", "type", "isEnabled", "adminConsentDisplayName",
              "adminConsentDescription", "userConsentDisplayName", "userConsentDescription",
              "origin"}
ROLE_KEYS = {"id", "value", "allowedMemberTypes", "description", "displayName", "isEnabled",
             "origin"}
SCOPE_VALUE_RE = re.compile(r"^[A-Za-z0-9!#$%&'()*+,\-./:;<=>?@\[\]^_`{|}~]+$")
ENTITLEMENT_ERROR = ("CannotDeleteOrUpdateEnabledEntitlement",
                     "Permission (scope or role) cannot be deleted or updated unless disabled "
                     "first.")  # https://learn.microsoft.com/en-us/graph/api/resources/permissionscope?view=graph-rest-1.0


def no_such_property(prop: str) -> GraphError:
    return bad_request(f"Property '{prop}' does not exist as a declared property or extension "
                       "property.")


def invalid_value(prop: str, resource: str) -> GraphError:
    return bad_request(f"Invalid value specified for property '{prop}' of resource '{resource}'.")


def strip_odata(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: strip_odata(v) for k, v in obj.items() if not k.startswith("@odata.")}
    if isinstance(obj, list):
        return [strip_odata(v) for v in obj]
    return obj


def _check_redirect_uri(uri: Any, platform: str) -> None:
    """https://learn.microsoft.com/en-us/entra/identity-platform/reply-url: absolute URI, <= 256 chars, no wildcards; http only for
    localhost; custom schemes only for public (mobile & desktop) clients."""
    resource = {"publicClient": "PublicClientApplication", "web": "WebApplication",
                "spa": "SpaApplication"}[platform]
    if not isinstance(uri, str) or not uri or len(uri) > 256 or "*" in uri or re.search(r"\s", uri):
        raise invalid_value("redirectUris", resource)
    sp = urlsplit(uri)
    if not sp.scheme or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", sp.scheme):
        raise invalid_value("redirectUris", resource)
    scheme = sp.scheme.lower()
    if scheme == "http":
        if (sp.hostname or "").lower() not in ("localhost", "127.0.0.1", "::1"):
            raise invalid_value("redirectUris", resource)
    elif scheme != "https":
        if platform != "publicClient" or not (sp.netloc or sp.path):
            raise invalid_value("redirectUris", resource)
    elif not sp.netloc:
        raise invalid_value("redirectUris", resource)


def _normalise_entitlements(items: Any, kind: str) -> List[JSON]:
    """Validate oauth2PermissionScopes ('scope') or appRoles ('role')."""
    prop, keys, res = (("oauth2PermissionScopes", SCOPE_KEYS, "PermissionScope") if kind == "scope"
                       else ("appRoles", ROLE_KEYS, "AppRole"))
    if not isinstance(items, list):
        raise invalid_value(prop, "Application")
    out: List[JSON] = []
    seen: set = set()
    for it in items:
        if not isinstance(it, dict):
            raise invalid_value(prop, "Application")
        it = strip_odata(it)
        for k in it:
            if k not in keys:
                raise no_such_property(k)
        if not is_guid(it.get("id")):
            raise bad_request(f"Property '{prop}.id' is required and must be a GUID.")
        if it["id"].lower() in seen:
            raise bad_request(f"Duplicate id '{it['id']}' in {prop}.")
        seen.add(it["id"].lower())
        if not isinstance(it.get("isEnabled"), bool):
            raise invalid_value("isEnabled", res)
        value = it.get("value")
        if kind == "scope":
            if not isinstance(value, str) or not value:
                raise bad_request("Property 'value' of a permission scope cannot be null or empty.")
            if it.get("type") not in ("User", "Admin"):
                raise invalid_value("type", res)
            for f in ("adminConsentDisplayName", "adminConsentDescription"):
                if not isinstance(it.get(f), str) or not it[f]:
                    raise bad_request(f"Property '{f}' of a permission scope cannot be null or empty.")
            norm = {"adminConsentDescription": it["adminConsentDescription"],
                    "adminConsentDisplayName": it["adminConsentDisplayName"],
                    "id": it["id"].lower(), "isEnabled": it["isEnabled"], "type": it["type"],
                    "userConsentDescription": it.get("userConsentDescription"),
                    "userConsentDisplayName": it.get("userConsentDisplayName"),
                    "value": value}
        else:
            amt = it.get("allowedMemberTypes")
            if (not isinstance(amt, list) or not amt
                    or not all(m in ("User", "Application") for m in amt)):
                raise invalid_value("allowedMemberTypes", res)
            if value is not None and not isinstance(value, str):
                raise invalid_value("value", res)
            norm = {"allowedMemberTypes": list(amt), "description": it.get("description"),
                    "displayName": it.get("displayName"), "id": it["id"].lower(),
                    "isEnabled": it["isEnabled"], "origin": "Application", "value": value}
        if isinstance(value, str):
            if (len(value) > 120 or not SCOPE_VALUE_RE.match(value) or value.startswith(".")):
                raise invalid_value("value", res)
        out.append(norm)
    return out


def _check_entitlement_change(old: List[JSON], new: List[JSON]) -> None:
    """https://learn.microsoft.com/en-us/graph/api/resources/permissionscope?view=graph-rest-1.0: an enabled scope/role can be neither removed nor changed; it must first be
    disabled (isEnabled=false, everything else unchanged) in one PATCH and then removed or
    changed in a later PATCH."""
    new_by_id = {n["id"]: n for n in new}
    for o in old:
        if not o["isEnabled"]:
            continue
        n = new_by_id.get(o["id"])
        if n is None:
            raise bad_request(ENTITLEMENT_ERROR[1], ENTITLEMENT_ERROR[0])
        a = {k: v for k, v in o.items() if k not in ("isEnabled", "origin")}
        b = {k: v for k, v in n.items() if k not in ("isEnabled", "origin")}
        if a != b:
            raise bad_request(ENTITLEMENT_ERROR[1], ENTITLEMENT_ERROR[0])


class AppsMixin(QueryMixin):
    s: State
    require: Callable[..., None]

    # -- templates ----------------------------------------------------------------------

    def list_templates(self, ctx: Ctx) -> Response:
        return self.collection(ctx, [dict(CUSTOM_TEMPLATE)], "applicationTemplates",
                               "applicationTemplate", TEMPLATE_FILTER, "ApplicationTemplate")

    def get_template(self, ctx: Ctx, tid: str) -> Response:
        if tid.lower() != CUSTOM_TEMPLATE_ID:
            if not is_guid(tid):
                raise bad_request(f"Invalid object identifier '{tid}'.")
            raise not_found(tid)
        return self.entity(ctx, dict(CUSTOM_TEMPLATE), "applicationTemplates",
                           "applicationTemplate")

    def instantiate(self, ctx: Ctx, tid: str) -> Response:
        self.require(ctx, WRITE_APPS, admin=True)
        if tid.lower() != CUSTOM_TEMPLATE_ID:
            if not is_guid(tid):
                raise bad_request(f"Invalid object identifier '{tid}'.")
            raise not_found(tid)  # the emulator only knows the Custom (non-gallery) template
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise bad_request("The request payload must be a JSON object.")
        for k in body:
            if k not in ("displayName", "serviceManagementReference"):
                raise bad_request(f"The parameter '{k}' in the request payload is not a valid "
                                  "parameter for the operation 'instantiate'.")
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip() or len(name) > 256:
            raise bad_request("Invalid value specified for property 'displayName' of resource "
                              "'Application'.")
        app, sp = self.create_from_template(name, body.get("serviceManagementReference"))
        out = {"@odata.context": ctx.odata("microsoft.graph.applicationServicePrincipal"),
               "application": strip_private(app), "servicePrincipal": strip_private(sp)}
        self.s.replication_hide("application", app)
        self.s.replication_hide("servicePrincipal", sp)
        return 201, [("Location", f"{ctx.base}/v1.0/applications/{app['id']}")], out

    def create_from_template(self, name: str, smr: Optional[str]) -> Tuple[JSON, JSON]:
        """https://learn.microsoft.com/en-us/graph/application-proxy-configure-api: what the Custom template creates."""
        app_id, obj_id, sp_id = new_guid(), new_guid(), new_guid()
        scopes: List[JSON] = []
        if self.s.config["template_user_impersonation"]:
            scopes.append({
                "adminConsentDescription": f"Allow the application to access {name} on behalf of "
                                           "the signed-in user.",
                "adminConsentDisplayName": f"Access {name}", "id": new_guid(), "isEnabled": True,
                "type": "User",
                "userConsentDescription": f"Allow the application to access {name} on your behalf.",
                "userConsentDisplayName": f"Access {name}", "value": "user_impersonation"})
        roles = [
            {"allowedMemberTypes": ["User"], "description": "msiam_access",
             "displayName": "msiam_access", "id": ROLE_MSIAM_ID, "isEnabled": True,
             "origin": "Application", "value": None},
            {"allowedMemberTypes": ["User"], "description": "User", "displayName": "User",
             "id": ROLE_USER_ID, "isEnabled": True, "origin": "Application", "value": None},
        ]
        created = iso()
        app: JSON = {
            "id": obj_id, "deletedDateTime": None, "appId": app_id,
            "applicationTemplateId": CUSTOM_TEMPLATE_ID, "disabledByMicrosoftStatus": None,
            "createdDateTime": created, "displayName": name, "description": None,
            "groupMembershipClaims": None, "identifierUris": [], "isDeviceOnlyAuthSupported": None,
            "isFallbackPublicClient": None, "nativeAuthenticationApisEnabled": None,
            "notes": None, "publisherDomain": self.s.tenant_domain,
            "serviceManagementReference": smr, "signInAudience": "AzureADMyOrg", "tags": [],
            "tokenEncryptionKeyId": None, "samlMetadataUrl": None, "defaultRedirectUri": None,
            "certification": None, "optionalClaims": None,
            "servicePrincipalLockConfiguration": None, "requestSignatureVerification": None,
            "addIns": [],
            "api": {"acceptMappedClaims": None, "knownClientApplications": [],
                    "requestedAccessTokenVersion": None, "oauth2PermissionScopes": scopes,
                    "preAuthorizedApplications": []},
            "appRoles": roles,
            "info": {"logoUrl": None, "marketingUrl": None, "privacyStatementUrl": None,
                     "supportUrl": None, "termsOfServiceUrl": None},
            "keyCredentials": [],
            "parentalControlSettings": {"countriesBlockedForMinors": [],
                                        "legalAgeGroupRule": "Allow"},
            "passwordCredentials": [], "publicClient": {"redirectUris": []},
            "requiredResourceAccess": [], "verifiedPublisher": {
                "displayName": None, "verifiedPublisherId": None, "addedDateTime": None},
            "web": {"homePageUrl": CUSTOM_HOMEPAGE, "logoutUrl": None, "redirectUris": [],
                    "implicitGrantSettings": {"enableAccessTokenIssuance": False,
                                              "enableIdTokenIssuance": False},
                    "redirectUriSettings": []},
            "spa": {"redirectUris": []},
            "_sp": sp_id,
        }
        sp: JSON = {
            "id": sp_id, "deletedDateTime": None, "accountEnabled": True, "alternativeNames": [],
            "appDisplayName": name, "appDescription": None, "appId": app_id,
            "applicationTemplateId": CUSTOM_TEMPLATE_ID,
            "appOwnerOrganizationId": self.s.tenant_id, "appRoleAssignmentRequired": True,
            "description": None, "disabledByMicrosoftStatus": None, "displayName": name,
            "homepage": CUSTOM_HOMEPAGE, "loginUrl": None, "logoutUrl": None, "notes": None,
            "notificationEmailAddresses": [], "preferredSingleSignOnMode": None,
            "preferredTokenSigningKeyThumbprint": None, "replyUrls": [],
            "servicePrincipalNames": [app_id], "servicePrincipalType": "Application",
            "signInAudience": "AzureADMyOrg",
            "tags": ["WindowsAzureActiveDirectoryCustomSingleSignOnApplication",
                     "WindowsAzureActiveDirectoryIntegratedApp"],
            "tokenEncryptionKeyId": None, "samlSingleSignOnSettings": None, "addIns": [],
            "appRoles": copy.deepcopy(roles),
            "info": copy.deepcopy(app["info"]), "keyCredentials": [],
            "oauth2PermissionScopes": copy.deepcopy(scopes), "passwordCredentials": [],
            "resourceSpecificApplicationPermissions": [],
            "verifiedPublisher": copy.deepcopy(app["verifiedPublisher"]),
            "_app": obj_id,
        }
        # TF-azuread synchronization.go / app_role_assignment_resource.go: a new service principal
        # is not ready for sync calls and assignments at once (see _sync_sp, create_assigned_to).
        sp["_sync_transient"] = int(self.s.config["new_sp_sync_transient_count"])
        sp["_assign_transient"] = int(self.s.config["new_sp_assignment_transient_count"])
        self.s.applications[obj_id] = app
        self.s.service_principals[sp_id] = sp
        return app, sp

    # -- applications -------------------------------------------------------------------

    def app_by_key(self, key: str) -> JSON:
        m = re.fullmatch(r"\(appId='([^']*)'\)", key)
        if m:
            app = next((a for a in self.s.applications.values()
                        if a["appId"] == m.group(1).lower()), None)
            ident = m.group(1)
        else:
            if not is_guid(key):
                raise bad_request(f"Invalid object identifier '{key}'.")
            app = self.s.applications.get(key.lower())
            ident = key
        if app is None or not State.replicated(app):
            raise not_found(ident)
        return app

    def list_applications(self, ctx: Ctx) -> Response:
        self.require(ctx, READ_APPS)
        objs = [strip_private(a) for a in self.s.applications.values()
                if State.replicated(a) and State.listed(a)]
        return self.collection(ctx, objs, "applications", "application", APP_FILTER,
                               "Application")

    def get_application(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, READ_APPS)
        app = self.app_by_key(key)
        return self.entity(ctx, strip_private(self._replica_of(app)), "applications",
                           "application")

    @staticmethod
    def _replica_of(app: JSON) -> JSON:
        """TF-azuread applications.go: right after a PATCH the next request on the app may hit a
        replica that still has the state before it (the PATCH is not lost: it shows later)."""
        stale = app.get("_stale")
        if stale and stale["reads"] > 0:
            stale["reads"] -= 1
            return stale["snapshot"]
        app.pop("_stale", None)
        return app

    def get_application_altkey(self, ctx: Ctx, appid: str) -> Response:
        return self.get_application(ctx, f"(appId='{appid}')")

    def patch_application_altkey(self, ctx: Ctx, key: str) -> Response:
        return self.patch_application(ctx, f"(appId='{key}')")

    def delete_application(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, WRITE_APPS, admin=True)
        app = self.app_by_key(key)
        sp_id = app.get("_sp")
        del self.s.applications[app["id"]]
        if sp_id and sp_id in self.s.service_principals:
            self.delete_sp_cascade(sp_id)
        return no_content()

    def delete_sp_cascade(self, sp_id: str) -> None:
        self.s.service_principals.pop(sp_id, None)
        self.s.sync_secrets.pop(sp_id, None)
        self.s.sync_secrets_stale.pop(sp_id, None)
        for jid in [j for j, job in self.s.jobs.items() if job["_sp"] == sp_id]:
            del self.s.jobs[jid]
        for aid in [a for a, asg in self.s.assignments.items()
                    if asg["resourceId"] == sp_id or asg["principalId"] == sp_id]:
            del self.s.assignments[aid]

    def patch_application(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, WRITE_APPS, admin=True)
        app = self.app_by_key(key)
        replica = self._replica_of(app)
        if replica is not app:
            # The stale replica judges the change: removing a scope that it still sees enabled is
            # 400 CannotDeleteOrUpdateEnabledEntitlement although the last PATCH disabled it.
            self._apply_patch(ctx, copy.deepcopy(replica))
        before = copy.deepcopy(app)
        self._apply_patch(ctx, app)
        if self.s.config["stale_reads_after_app_patch"]:
            app["_stale"] = {"snapshot": before, "reads": int(self.s.config["stale_reads_after_app_patch"])}
            before.pop("_stale", None)
        return no_content()

    def _apply_patch(self, ctx: Ctx, app: JSON) -> None:
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise bad_request("The request payload must be a JSON object.")
        body = {k: v for k, v in body.items() if not k.startswith("@odata.")}
        for k in body:
            if k in APP_READONLY:
                raise bad_request(f"Property '{k}' is read-only and cannot be set.")
            if k not in APP_WRITABLE:
                raise no_such_property(k)
        new = copy.deepcopy(app)
        for k, v in body.items():
            if k == "api":
                self._patch_api(app, new, v)
            elif k == "appRoles":
                roles = _normalise_entitlements(v, "role")
                _check_entitlement_change(app["appRoles"], roles)
                new["appRoles"] = roles
            elif k == "publicClient":
                new["publicClient"] = self._patch_platform(app, v, "publicClient", ("redirectUris",))
            elif k == "spa":
                new["spa"] = self._patch_platform(app, v, "spa", ("redirectUris",))
            elif k == "web":
                new["web"] = self._patch_platform(
                    app, v, "web", ("redirectUris", "homePageUrl", "logoutUrl",
                                    "implicitGrantSettings", "redirectUriSettings"))
            elif k == "isFallbackPublicClient" or k == "isDeviceOnlyAuthSupported":
                if v is not None and not isinstance(v, bool):
                    raise invalid_value(k, "Application")
                new[k] = v
            elif k == "displayName":
                if not isinstance(v, str) or not v.strip() or len(v) > 256:
                    raise invalid_value(k, "Application")
                new[k] = v
            elif k == "signInAudience":
                if v not in ("AzureADMyOrg", "AzureADMultipleOrgs",
                             "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"):
                    raise invalid_value(k, "Application")
                new[k] = v
            elif k == "tags":
                if not isinstance(v, list) or not all(isinstance(t, str) for t in v):
                    raise invalid_value(k, "Application")
                new[k] = list(v)
            elif k == "identifierUris":
                continue  # validated below, after api (token version matters: https://learn.microsoft.com/en-us/entra/identity-platform/identifier-uri-restrictions)
            else:
                new[k] = copy.deepcopy(v)
        if "identifierUris" in body:
            new["identifierUris"] = self._check_identifier_uris(app, new, body["identifierUris"])
        # scope and app-role values share one namespace
        # (https://learn.microsoft.com/en-us/entra/identity-platform/reply-url)
        values = [s["value"] for s in new["api"]["oauth2PermissionScopes"]] + \
                 [r["value"] for r in new["appRoles"] if r["value"]]
        dup = {v for v in values if values.count(v) > 1}
        if dup:
            raise bad_request(f"The value '{sorted(dup)[0]}' is used by more than one permission "
                              "scope or app role; values must be unique.")
        app.clear()
        app.update(new)
        sp = self.s.service_principals.get(app.get("_sp") or "")
        if sp is not None:
            sp["appDisplayName"] = app["displayName"]
            sp["oauth2PermissionScopes"] = copy.deepcopy(app["api"]["oauth2PermissionScopes"])
            sp["appRoles"] = copy.deepcopy(app["appRoles"])
            sp["servicePrincipalNames"] = [app["appId"]] + list(app["identifierUris"])
            sp["signInAudience"] = app["signInAudience"]

    def _patch_api(self, app: JSON, new: JSON, v: Any) -> None:
        if not isinstance(v, dict):
            raise invalid_value("api", "Application")
        v = strip_odata(v)
        for k in v:
            if k not in API_KEYS:
                raise no_such_property(k)
        api = new["api"]
        # Nested complex properties merge: omitted sub-properties keep their values
        # (https://learn.microsoft.com/en-us/graph/api/application-update?view=graph-rest-1.0).
        if "requestedAccessTokenVersion" in v:
            if v["requestedAccessTokenVersion"] not in (1, 2, None) or isinstance(
                    v["requestedAccessTokenVersion"], bool):
                raise invalid_value("requestedAccessTokenVersion", "ApiApplication")
            api["requestedAccessTokenVersion"] = v["requestedAccessTokenVersion"]
        if "oauth2PermissionScopes" in v:
            scopes = _normalise_entitlements(v["oauth2PermissionScopes"], "scope")
            _check_entitlement_change(app["api"]["oauth2PermissionScopes"], scopes)
            api["oauth2PermissionScopes"] = scopes
        for k in ("acceptMappedClaims", "knownClientApplications", "preAuthorizedApplications"):
            if k in v:
                api[k] = copy.deepcopy(v[k])

    def _patch_platform(self, app: JSON, v: Any, platform: str, keys: Tuple[str, ...]) -> JSON:
        if not isinstance(v, dict):
            raise invalid_value(platform, "Application")
        v = strip_odata(v)
        cur = copy.deepcopy(app[platform])
        for k, val in v.items():
            if k not in keys:
                raise no_such_property(k)
            if k == "redirectUris":
                if not isinstance(val, list):
                    raise invalid_value("redirectUris", "Application")
                for u in val:
                    _check_redirect_uri(u, platform)
                if len(set(val)) != len(val):
                    raise bad_request("Duplicate values are not allowed in 'redirectUris'.")
                cur[k] = list(val)
            else:
                cur[k] = copy.deepcopy(val)
        return cur

    def _check_identifier_uris(self, app: JSON, new: JSON, uris: Any) -> List[str]:
        if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
            raise invalid_value("identifierUris", "Application")
        if len(set(u.lower() for u in uris)) != len(uris):
            raise bad_request("Duplicate values are not allowed in 'identifierUris'.")
        tenant = self.s.tenant_id
        app_id = app["appId"]
        policy = self.s.config["identifier_uri_policy"]
        v2 = new["api"]["requestedAccessTokenVersion"] == 2
        for u in uris:
            sp = urlsplit(u)
            if (not sp.scheme or not (sp.netloc or sp.path) or "*" in u or re.search(r"\s", u)
                    or len(u) > 255 or u.endswith("/") or sp.query or sp.fragment):
                raise invalid_value("identifierUris", "Application")
            for other in self.s.applications.values():
                if other["id"] != app["id"] and u.lower() in (x.lower() for x in other["identifierUris"]):
                    raise bad_request("Another object with the same value for property "
                                      "identifierUris already exists.")
            if u in app["identifierUris"] or policy == "none" or v2:
                continue  # existing URIs are not re-checked; the policy skips v2 apps (https://learn.microsoft.com/en-us/entra/identity-platform/identifier-uri-restrictions)
            default_uris = {f"api://{app_id}", f"api://{tenant}/{app_id}"}
            if policy == "nonDefault":
                ok = u.lower() in default_uris
            else:
                host = (sp.hostname or "").lower()
                ok = (app_id in u.lower() or tenant in u.lower() or any(
                    host == d or host.endswith("." + d) for d in self.s.verified_domains))
            if not ok:
                raise bad_request(
                    f"Failed to add identifier URI {u}. All newly added URIs must contain a "
                    "tenant verified domain, tenant ID, or app ID, as per the default tenant "
                    "policy of your organization. See https://aka.ms/identifier-uri-addition-errors "
                    "for more information on this error.")
        return list(uris)

    # -- service principals -------------------------------------------------------------

    def sp_by_key(self, key: str) -> JSON:
        m = re.fullmatch(r"\(appId='([^']*)'\)", key)
        if m:
            sp = next((p for p in self.s.service_principals.values()
                       if p["appId"] == m.group(1).lower()), None)
            ident = m.group(1)
        else:
            if not is_guid(key):
                raise bad_request(f"Invalid object identifier '{key}'.")
            sp = self.s.service_principals.get(key.lower())
            ident = key
        if sp is None or not State.replicated(sp):
            raise not_found(ident)
        return sp

    def list_sps(self, ctx: Ctx) -> Response:
        self.require(ctx, READ_APPS)
        objs = [strip_private(p) for p in self.s.service_principals.values()
                if State.replicated(p) and State.listed(p)]
        return self.collection(ctx, objs, "servicePrincipals", "servicePrincipal", SP_FILTER,
                               "ServicePrincipal")

    def get_sp(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, READ_APPS)
        return self.entity(ctx, strip_private(self.sp_by_key(key)), "servicePrincipals",
                           "servicePrincipal")

    def get_sp_altkey(self, ctx: Ctx, appid: str) -> Response:
        return self.get_sp(ctx, f"(appId='{appid}')")

    # G api-reference/v1.0/api/serviceprincipal-update.md; only the properties the tool or
    # the tests change are served (others: 400, see GRAPH_EMULATOR.md "Deliberately NOT done").
    SP_WRITABLE = {"appRoleAssignmentRequired", "accountEnabled", "notes", "tags"}

    def patch_sp(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, WRITE_APPS, admin=True)
        sp = self.sp_by_key(key)
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise bad_request("The request payload must be a JSON object.")
        for k, v in body.items():
            if k.startswith("@odata."):
                continue
            if k not in self.SP_WRITABLE:
                raise no_such_property(k)
            if k in ("appRoleAssignmentRequired", "accountEnabled") and not isinstance(v, bool):
                raise invalid_value(k, "ServicePrincipal")
        for k, v in body.items():
            if not k.startswith("@odata."):
                sp[k] = copy.deepcopy(v)
        return no_content()
