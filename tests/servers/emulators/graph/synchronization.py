"""Synchronization: jobs, secrets, schema, credentials validation, cycles, provision on demand."""

from __future__ import annotations

import copy
import json
import re
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from .applications import invalid_value, no_such_property, strip_odata
from .common import CUSTOM_TEMPLATE_ID, JSON, is_guid, iso, new_guid, sha_full, strip_private
from .context import Ctx, Response, no_content
from .control import MIN_TRACKED_TOKEN, SECRET_KEYS
from .errors import GraphError, bad_request, not_found, sync_error
from .query import QueryMixin, READ_SYNC, WRITE_SYNC
from .state import State
from .sync_schema import (AAD_DIR, FLOW_BEHAVIORS, FLOW_TYPES, NEVER, SCIM_GROUP_OBJ, SCIM_USER_OBJ, SOURCE_TYPES, SYNC_SECRET_KEYS, TARGET_DIR, default_schema, status_template)


class SyncMixin(QueryMixin):
    s: State
    require: Callable[..., None]
    sp_by_key: Callable[[str], JSON]

    # -- helpers ------------------------------------------------------------------------

    def _sync_sp(self, key: str) -> JSON:
        """The service principal of a synchronization call. TF-azuread synchronization.go
        (synchronizationRetryFunc) retries 403 and 409: the sync service does not know a service
        principal created moments ago. The first calls answer 403, then 409."""
        sp = self.sp_by_key(key)
        left = sp.get("_sync_transient", 0)
        if left > 0:
            sp["_sync_transient"] = left - 1
            if left % 2 == 0:
                raise GraphError(403, "Authorization_RequestDenied",
                                 "Insufficient privileges to complete the operation.")
            raise sync_error(409, "The service principal is not yet ready for synchronization; "
                             "retry the request.", sync_code="ServicePrincipalNotReady")
        return sp

    def _visible_secrets(self, sp: JSON) -> Dict[str, str]:
        """The saved secrets as the sync service's readers see them: right after a PUT, the
        previous ones (TF-azuread polls GET secrets until the PUT shows)."""
        stale = self.s.sync_secrets_stale.get(sp["id"])
        if stale and stale["reads"] > 0:
            stale["reads"] -= 1
            return stale["old"]
        self.s.sync_secrets_stale.pop(sp["id"], None)
        return self.s.sync_secrets.get(sp["id"], {})

    def _job(self, sp: JSON, job_id: str) -> JSON:
        job = self.s.jobs.get(job_id)
        if job is None or job["_sp"] != sp["id"] or not State.replicated(job):
            raise not_found(job_id)
        return job

    def _job_fragment(self, sp: JSON) -> str:
        return f"servicePrincipals('{sp['id']}')/synchronization/jobs"

    def _render_job(self, job: JSON) -> JSON:
        return strip_private(job)

    def _configured(self, sp: JSON, visible: bool = False) -> bool:
        sec = self._visible_secrets(sp) if visible else self.s.sync_secrets.get(sp["id"], {})
        return bool(sec.get("BaseAddress")) and bool(sec.get("SecretToken"))

    def _learn(self, token: Optional[str]) -> None:
        # Only token-like values are tracked for the log's scim_token_* flags (a 1-character
        # test value would otherwise "occur" in every request).
        if isinstance(token, str) and len(token) >= MIN_TRACKED_TOKEN:
            self.s.scim_tokens.add(token)

    def _check_credentials(self, creds: List[JSON], where: str) -> Dict[str, str]:
        out: Dict[str, str] = {}
        for c in creds:
            if not isinstance(c, dict) or set(c) - {"key", "value", "@odata.type"} \
                    or not isinstance(c.get("key"), str) or not isinstance(c.get("value"), str):
                raise bad_request(f"Each entry of '{where}' must be an object "
                                  "{\"key\": string, \"value\": string}.")
            if c["key"] not in SYNC_SECRET_KEYS:
                raise sync_error(400, f"The secret key '{c['key']}' is not valid for this "
                                 "application.", sync_code="InvalidSecretKey")
            out[c["key"]] = c["value"]
            if c["key"] == "SecretToken":
                self._learn(c["value"])
        base = out.get("BaseAddress")
        if base:
            sp = urlsplit(base)
            if sp.scheme not in ("http", "https") or not sp.netloc or re.search(r"\s", base):
                raise sync_error(400, f"The tenant URL '{base}' is not a valid absolute http(s) "
                                 "URL.", sync_code="InvalidTenantUrl")
        if out.get("SyncAll", "") not in ("", "true", "false", "True", "False"):  # "" deletes it
            raise sync_error(400, "SyncAll must be \"true\" or \"false\".",
                             sync_code="InvalidSecretValue")
        if out.get("SyncNotificationSettings"):
            try:
                json.loads(out["SyncNotificationSettings"])
            except ValueError:
                raise sync_error(400, "SyncNotificationSettings must be a JSON string.",
                                 sync_code="InvalidSecretValue") from None
        return out

    def _token_rejected(self, token: Optional[str]) -> bool:
        return bool(token) and sha_full(token or "") in self.s.rejected_tokens

    def _scope(self, sp: JSON, on_demand: bool = False) -> Tuple[set, set]:
        """(user ids, group ids) in provisioning scope (https://learn.microsoft.com/en-us/graph/api/serviceprincipal-post-approleassignedto?view=graph-rest-1.0: direct members of assigned
        groups only - nested groups are not provisioned; groups must be security-enabled).
        SyncAll=true -> every user and group."""
        if str(self.s.sync_secrets.get(sp["id"], {}).get("SyncAll", "false")).lower() == "true":
            return set(self.s.users), set(self.s.groups)
        users: set = set()
        groups: set = set()
        now = time.time()
        for a in self.s.assignments.values():
            if a["resourceId"] != sp["id"]:
                continue
            if on_demand and a.get("_honoured_at", 0) > now:
                continue  # not replicated to the provisioning service yet
            if a["principalType"] == "User":
                users.add(a["principalId"])
            elif a["principalType"] == "Group":
                g = self.s.groups.get(a["principalId"])
                if g is None or not g["securityEnabled"]:
                    continue
                groups.add(g["id"])
                users.update(m for m in g["_members"] if m in self.s.users)
        return users, groups

    # -- templates / jobs ---------------------------------------------------------------

    def sync_templates(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, READ_SYNC, admin=True)
        sp = self._sync_sp(key)
        items = []
        if sp.get("applicationTemplateId") == CUSTOM_TEMPLATE_ID:
            items.append({"id": "scim", "applicationId": sp["appId"], "default": True,
                          "description": "SCIM 2.0 provisioning (non-gallery application)",
                          "discoverable": True, "factoryTag": "scim", "metadata": [],
                          "schema": strip_private(default_schema(
                              "scim", self.s.config["schema_user_mapping_enabled"],
                              self.s.config["schema_group_mapping_enabled"]))})
        return self.collection(ctx, items,
                               f"servicePrincipals('{sp['id']}')/synchronization/templates",
                               "synchronizationTemplate")

    def list_jobs(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, READ_SYNC, admin=True)
        sp = self._sync_sp(key)
        items = [self._render_job(j) for j in self.s.jobs.values()
                 if j["_sp"] == sp["id"] and State.replicated(j)]
        return self.collection(ctx, items, self._job_fragment(sp), "synchronizationJob")

    def create_job(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        body = ctx.json_body()
        if not isinstance(body, dict) or set(body) - {"templateId", "@odata.type"}:
            raise bad_request("The request body must be {\"templateId\": \"scim\"}.")
        tpl = body.get("templateId")
        if tpl != "scim" or sp.get("applicationTemplateId") != CUSTOM_TEMPLATE_ID:
            raise sync_error(400, f"The template '{tpl}' was not found for this application.",
                             sync_code="TemplateNotFound")
        if any(j["_sp"] == sp["id"] and j["templateId"] == tpl for j in self.s.jobs.values()):
            raise sync_error(409, f"A synchronization job for template '{tpl}' already exists "
                             "for this service principal.", sync_code="JobAlreadyExists")
        job_id = f"scim.{uuid.uuid4().hex}.{sp['appId'].replace('-', '')}"
        job = {
            "id": job_id, "templateId": tpl,
            "schedule": {"expiration": None, "interval": "P10675199DT2H48M5.4775807S",
                         "state": "Disabled"},  # https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-configuration-api: created disabled
            "status": status_template(),
            "synchronizationJobSettings": [
                {"name": "AzureIngestionAttributeOptimization", "value": "False"},
                {"name": "LookaheadQueryEnabled", "value": "False"}],
            "_sp": sp["id"],
            "_schema": default_schema(job_id, self.s.config["schema_user_mapping_enabled"],
                                      self.s.config["schema_group_mapping_enabled"]),
            "_provisioned": {}, "_pod_times": [], "_ran": False,
        }
        if self._configured(sp):
            job["status"]["code"] = "NotRun"
        self.s.jobs[job_id] = job
        out = self.entity(ctx, self._render_job(job), self._job_fragment(sp),
                          "synchronizationJob", status=201)
        self.s.replication_hide("synchronizationJob", job)
        return out

    def get_job(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, READ_SYNC, admin=True)
        sp = self._sync_sp(key)
        job = self._job(sp, job_id)
        return self.entity(ctx, self._render_job(job), self._job_fragment(sp),
                           "synchronizationJob")

    def delete_job(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        job = self._job(sp, job_id)
        del self.s.jobs[job["id"]]
        return no_content()

    # -- secrets / credentials ----------------------------------------------------------

    def put_secrets(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        body = ctx.json_body()
        if not isinstance(body, dict) or not isinstance(body.get("value"), list) or \
                set(body) - {"value", "@odata.context", "@odata.type"}:
            # https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-configuration-api:
            # the examples, TF and third-party scripts all send {"value": [...]}.
            raise bad_request("The request body must be {\"value\": [{\"key\": ..., \"value\": "
                              "...}]}.")
        new = self._check_credentials(body["value"], "value")
        cur = self.s.sync_secrets.setdefault(sp["id"], {})
        if self.s.config["secrets_stale_reads"]:
            self.s.sync_secrets_stale[sp["id"]] = {
                "old": dict(cur), "reads": int(self.s.config["secrets_stale_reads"])}
        for k, v in new.items():
            if v == "":
                cur.pop(k, None)  # [TF]: keys are deleted by PUTting them with empty values
            else:
                cur[k] = v
        for job in self.s.jobs.values():
            if job["_sp"] == sp["id"] and job["status"]["code"] in ("NotConfigured", "NotRun"):
                job["status"]["code"] = "NotRun" if self._configured(sp) else "NotConfigured"
        return no_content()

    def get_secrets(self, ctx: Ctx, key: str) -> Response:
        self.require(ctx, READ_SYNC, admin=True)
        sp = self._sync_sp(key)
        sec = self._visible_secrets(sp)
        if not sec:
            # No docs page and no SDK method for this GET (real-services.md); TF-azuread reads a
            # 404 as "no secrets saved".
            raise sync_error(404, "No synchronization secrets were found for this service "
                             "principal.", sync_code="SecretsNotFound")
        # https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-configuration-api:
        # GET returns the keys with masked values; the SCIM token is never echoed.
        mask_all = self.s.config["secrets_get_masking"] == "all"
        items = [{"key": k, "value": "*" if mask_all or k in SECRET_KEYS else v}
                 for k, v in sec.items()]
        return 200, [], {"@odata.context": ctx.odata(
            f"servicePrincipals('{sp['id']}')/synchronization/secrets"), "value": items}

    def validate_credentials(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        self._job(sp, job_id)
        body = ctx.json_body()
        if not isinstance(body, dict) or set(body) - {"useSavedCredentials", "credentials",
                                                      "applicationIdentifier", "templateId"}:
            raise bad_request("The request body may only contain useSavedCredentials, "
                              "credentials, applicationIdentifier and templateId.")
        use_saved = body.get("useSavedCredentials", False)
        if not isinstance(use_saved, bool):
            raise invalid_value("useSavedCredentials", "validateCredentials")
        if use_saved:
            creds = dict(self.s.sync_secrets.get(sp["id"], {}))
        else:
            if not isinstance(body.get("credentials"), list):
                raise bad_request("Property 'credentials' is required when useSavedCredentials "
                                  "is false.")
            creds = self._check_credentials(body["credentials"], "credentials")
        if not creds.get("BaseAddress") or not creds.get("SecretToken"):
            raise sync_error(400, "Both a tenant URL (BaseAddress) and a secret token "
                             "(SecretToken) are required to test the connection.",
                             sync_code="SystemForCrossDomainIdentityManagementCredentialValidationMissing")
        if self._token_rejected(creds["SecretToken"]):
            raise sync_error(
                400, "You appear to have entered invalid credentials. Please confirm you are "
                "using the correct information for an administrative account. Error code: "
                "SystemForCrossDomainIdentityManagementCredentialValidationUnauthorized "
                "Details: We received this unexpected response from your application: "
                "Received response from Web resource. Resource: "
                f"{creds['BaseAddress'].rstrip('/')}/Users?filter=userName+eq+%22{new_guid()}%22 "
                "Operation Method: GET Response Status Code: Unauthorized",
                sync_code="SystemForCrossDomainIdentityManagementCredentialValidationUnauthorized")
        return no_content()

    # -- schema -------------------------------------------------------------------------

    def get_schema(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, READ_SYNC, admin=True)
        sp = self._sync_sp(key)
        job = self._job(sp, job_id)
        body = {"@odata.context": ctx.odata(
            f"servicePrincipals('{sp['id']}')/synchronization/jobs('{job['id']}')/schema/$entity")}
        body.update(copy.deepcopy(job["_schema"]))
        return 200, [], body

    def patch_schema(self, ctx: Ctx, sub: str) -> Response:
        # https://learn.microsoft.com/en-us/graph/synchronization-configure-with-custom-target-attributes:
        # PATCH is not routed by the sync service; the SDKs that send it get this.
        m = re.match(r"^/servicePrincipals/([^/]+)/synchronization/jobs/([^/]+)/schema$", sub)
        sp_id, job_id = (m.group(1), m.group(2)) if m else ("?", "?")
        raise GraphError(404, "UnknownError",
                         "No HTTP resource was found that matches the request URI "
                         f"'https://syncfabric.windowsazure.com/api/servicePrincipals({sp_id})/"
                         f"synchronization/jobs({job_id})/schema?api-version=2.0'.")

    def put_schema(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        job = self._job(sp, job_id)
        body = ctx.json_body()
        if not isinstance(body, dict):
            raise bad_request("The request payload must be a JSON object.")
        body = strip_odata(body)
        new = self._validate_schema(job, body)
        changed = json.dumps(new["synchronizationRules"], sort_keys=True) != json.dumps(
            job["_schema"]["synchronizationRules"], sort_keys=True)
        new["id"] = job["id"]
        new["version"] = "Date:" + iso() + "~User:emulator"
        job["_schema"] = new
        if changed and job["_ran"]:
            # [E-how]: mapping changes restart the initial cycle
            job["status"]["steadyStateFirstAchievedTime"] = NEVER
            job["_restart_initial"] = True
        return no_content()

    def _validate_schema(self, job: JSON, body: JSON) -> JSON:
        def fail(msg: str) -> GraphError:
            return sync_error(400, msg, sync_code="InvalidSchema")
        unknown = set(body) - {"id", "version", "directories", "synchronizationRules"}
        if unknown:
            raise no_such_property(sorted(unknown)[0])
        # https://learn.microsoft.com/en-us/graph/synchronization-configure-with-custom-target-attributes:
        # PUT fully replaces the schema - both parts must be present.
        if not isinstance(body.get("directories"), list) or not isinstance(
                body.get("synchronizationRules"), list):
            raise fail("The schema must contain 'directories' and 'synchronizationRules'; PUT "
                       "replaces the whole schema, so send all of it, including unmodified parts.")
        dirs: Dict[str, Dict[str, set]] = {}
        for d in body["directories"]:
            if not isinstance(d, dict) or not isinstance(d.get("name"), str) or not isinstance(
                    d.get("objects"), list):
                raise fail("Each directory needs 'name' and 'objects'.")
            objs: Dict[str, set] = {}
            for o in d["objects"]:
                if not isinstance(o, dict) or not isinstance(o.get("name"), str) or \
                        not isinstance(o.get("attributes"), list):
                    raise fail(f"Directory '{d['name']}': each object needs 'name' and 'attributes'.")
                names = set()
                for a in o["attributes"]:
                    if not isinstance(a, dict) or not isinstance(a.get("name"), str):
                        raise fail(f"Object '{o['name']}': each attribute needs a 'name'.")
                    names.add(a["name"])
                objs[o["name"]] = names
            dirs[d["name"]] = objs
        for required in (AAD_DIR, TARGET_DIR):
            if required not in dirs:
                raise fail(f"The directory '{required}' is missing from the schema.")
        old_rules = {r["id"]: r for r in job["_schema"]["synchronizationRules"]}
        seen_rules = set()
        for r in body["synchronizationRules"]:
            if not isinstance(r, dict) or r.get("id") not in old_rules:
                raise fail("Unknown synchronization rule id "
                           f"'{r.get('id') if isinstance(r, dict) else r}'.")
            seen_rules.add(r["id"])
            sdir, tdir = dirs.get(r.get("sourceDirectoryName")), dirs.get(r.get("targetDirectoryName"))
            if sdir is None or tdir is None:
                raise fail(f"Rule '{r['id']}' references an unknown source or target directory.")
            if not isinstance(r.get("objectMappings"), list):
                raise fail(f"Rule '{r['id']}' needs 'objectMappings'.")
            for om in r["objectMappings"]:
                if not isinstance(om, dict):
                    raise fail("objectMappings entries must be objects.")
                so, to = om.get("sourceObjectName"), om.get("targetObjectName")
                if so not in sdir or to not in tdir:
                    raise fail(f"Object mapping '{om.get('name')}' references an unknown source "
                               f"object '{so}' or target object '{to}'.")
                if not isinstance(om.get("enabled"), bool):
                    raise fail(f"Object mapping '{om.get('name')}': 'enabled' must be a boolean.")
                maps = om.get("attributeMappings")
                if not isinstance(maps, list):
                    raise fail(f"Object mapping '{om.get('name')}' needs 'attributeMappings'.")
                targets = set()
                matching = 0
                for am in maps:
                    if not isinstance(am, dict):
                        raise fail("attributeMappings entries must be objects.")
                    t = am.get("targetAttributeName")
                    if t not in tdir[to]:
                        raise fail(f"The target attribute '{t}' does not exist on object '{to}' "
                                   f"of directory '{r['targetDirectoryName']}'.")
                    if t in targets:
                        raise fail(f"The target attribute '{t}' is mapped more than once in "
                                   f"'{om.get('name')}'.")
                    targets.add(t)
                    if am.get("flowType", "Always") not in FLOW_TYPES:
                        raise fail(f"Invalid flowType '{am.get('flowType')}' for '{t}'.")
                    if am.get("flowBehavior", "FlowWhenChanged") not in FLOW_BEHAVIORS:
                        raise fail(f"Invalid flowBehavior '{am.get('flowBehavior')}' for '{t}'.")
                    mp = am.get("matchingPriority", 0)
                    if not isinstance(mp, int) or isinstance(mp, bool) or mp < 0:
                        raise fail(f"matchingPriority of '{t}' must be a non-negative integer.")
                    matching += 1 if mp > 0 else 0
                    self._validate_source(am.get("source"), sdir[so], so, t, fail)
                if om["enabled"] and matching == 0:
                    raise fail(f"Object mapping '{om.get('name')}' must have at least one matching "
                               "attribute (matchingPriority > 0).")
        if seen_rules != set(old_rules):
            raise fail("The schema must contain every synchronization rule of the job.")
        return copy.deepcopy(body)

    def _validate_source(self, src: Any, attrs: set, obj: str, target: str,
                         fail: Callable[[str], GraphError]) -> None:
        if not isinstance(src, dict) or src.get("type") not in SOURCE_TYPES:
            raise fail(f"The source of '{target}' must be an object with type Attribute, "
                       "Constant or Function.")
        if src["type"] == "Attribute":
            if src.get("name") not in attrs:
                raise fail(f"The source attribute '{src.get('name')}' (mapped to '{target}') does "
                           f"not exist on source object '{obj}'.")
        elif src["type"] == "Function":
            for p in src.get("parameters") or []:
                if not isinstance(p, dict) or "value" not in p:
                    raise fail(f"Function parameters of '{target}' must be {{key, value}} objects.")
                self._validate_source(p["value"], attrs, obj, target, fail)
        if src.get("parameters") is not None and not isinstance(src.get("parameters"), list):
            raise fail(f"'parameters' of the source of '{target}' must be a list.")

    # -- start / pause / restart / cycles -------------------------------------------------

    def start_job(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        job = self._job(sp, job_id)
        if not self._configured(sp, visible=True):
            raise sync_error(400, "The job cannot be started: provisioning credentials (tenant "
                             "URL and secret token) have not been saved.",
                             sync_code="CredentialsMissing")
        job["schedule"]["state"] = "Active"
        job["status"]["quarantine"] = None  # https://learn.microsoft.com/en-us/entra/identity/app-provisioning/how-provisioning-works: start also clears quarantine
        job["status"]["code"] = "Active"
        if self.s.config["auto_cycle"]:
            self.run_cycle(job)
        return no_content()

    def pause_job(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        job = self._job(self._sync_sp(key), job_id)
        job["schedule"]["state"] = "Paused"
        job["status"]["code"] = "Paused"
        return no_content()

    def restart_job(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        job = self._job(sp, job_id)
        if ctx.body.strip():
            body = ctx.json_body()
            crit = body.get("criteria") if isinstance(body, dict) else None
            if not isinstance(body, dict) or set(body) - {"criteria"} or (
                    crit is not None and (not isinstance(crit, dict) or set(crit) - {"resetScope"})):
                raise bad_request("The request body may only contain {\"criteria\": "
                                  "{\"resetScope\": ...}}.")
        job["status"]["quarantine"] = None
        job["_provisioned"] = {}
        if job["schedule"]["state"] == "Active":
            job["status"]["code"] = "Active"
            if self.s.config["auto_cycle"]:
                self.run_cycle(job)
        return no_content()

    def run_cycle(self, job: JSON, state: Optional[str] = None,
                  error: Optional[JSON] = None) -> JSON:
        sp = self.s.service_principals[job["_sp"]]
        users, groups = self._scope(sp)
        token = self.s.sync_secrets.get(sp["id"], {}).get("SecretToken")
        if state is None:
            state = "Failed" if self._token_rejected(token) else "Succeeded"
            if state == "Failed":
                error = {"code": "SystemForCrossDomainIdentityManagementCredentialValidationUnauthorized",
                         "message": "The SCIM endpoint rejected the secret token (HTTP 401).",
                         "tenantActionable": True}
        now = iso()
        n = len(users) + len(groups)
        ok = state == "Succeeded"
        exe = {"activityIdentifier": new_guid(), "countEntitled": n,
               "countEntitledForProvisioning": n, "countEscrowed": 0 if ok else n,
               "countEscrowedRaw": 0 if ok else n, "countExported": n if ok else 0,
               "countExports": n if ok else 0, "countImported": n, "countImportedDeltas": 0,
               "countImportedReferenceDeltas": 0, "error": None if ok else error,
               "state": state, "timeBegan": now, "timeEnded": now}
        st = job["status"]
        st["lastExecution"] = exe
        job["_ran"] = True
        if ok:
            st["lastSuccessfulExecution"] = exe
            if n:
                st["lastSuccessfulExecutionWithExports"] = exe
            st["countSuccessiveCompleteFailures"] = 0
            if st["steadyStateFirstAchievedTime"] == NEVER:
                st["steadyStateFirstAchievedTime"] = now
            st["steadyStateLastAchievedTime"] = now
            st["synchronizedEntryCountByType"] = [
                {"key": f"{SCIM_USER_OBJ}_User", "value": len(users)},
                {"key": f"{SCIM_GROUP_OBJ}_Group", "value": len(groups)}]
            job.pop("_restart_initial", None)
        else:
            st["countSuccessiveCompleteFailures"] += 1
            if state == "Failed":
                self.quarantine(job, "EncounteredQuarantineException", error)
        return exe

    def quarantine(self, job: JSON, reason: str, error: Optional[JSON]) -> None:
        now = time.time()
        q = job["status"].get("quarantine") or {
            "currentBegan": iso(now), "seriesBegan": iso(now), "seriesCount": 0}
        q.update({"reason": reason, "nextAttempt": iso(now + 3600 * 6),
                  "seriesCount": q.get("seriesCount", 0) + 1,
                  "error": error or {"code": "SystemForCrossDomainIdentityManagementServiceIncompatible",
                                     "message": "Quarantined by the emulator control API.",
                                     "tenantActionable": True}})
        job["status"]["quarantine"] = q
        job["status"]["code"] = "Quarantine"

    # -- provision on demand
    # (https://learn.microsoft.com/en-us/graph/api/synchronization-synchronizationjob-provisionondemand?view=graph-rest-1.0)
    # ---------------------------------------------------

    def provision_on_demand(self, ctx: Ctx, key: str, job_id: str) -> Response:
        self.require(ctx, WRITE_SYNC, admin=True)
        sp = self._sync_sp(key)
        job = self._job(sp, job_id)
        cfg = self.s.config
        now = time.time()
        window = cfg["provision_on_demand_window"]
        job["_pod_times"] = [t for t in job["_pod_times"] if now - t < window]
        if len(job["_pod_times"]) >= cfg["provision_on_demand_limit"]:
            wait = max(1, int(window - (now - job["_pod_times"][0])) + 1)
            raise GraphError(429, "TooManyRequests", "Too many requests.",
                             [("Retry-After", str(wait))])
        job["_pod_times"].append(now)
        body = ctx.json_body()
        params = body.get("parameters") if isinstance(body, dict) else None
        if not isinstance(params, list) or not params or set(body) - {"parameters"}:
            raise bad_request("The request body must be {\"parameters\": [{\"ruleId\", "
                              "\"subjects\"}]}.")
        if not self._configured(sp, visible=True):
            raise sync_error(400, "Provisioning credentials have not been saved for this "
                             "application.", sync_code="CredentialsMissing")
        rule_ids = {r["id"]: r for r in job["_schema"]["synchronizationRules"]}
        results = []
        for p in params:
            if not isinstance(p, dict) or set(p) - {"ruleId", "subjects"}:
                raise bad_request("Each parameter needs exactly 'ruleId' and 'subjects'.")
            rid = p.get("ruleId")
            rule = rule_ids.get(rid[:-3] if isinstance(rid, str) and rid.endswith("#V2") else rid)
            if rule is None:
                raise sync_error(400, f"The rule '{rid}' was not found in the job's schema.",
                                 sync_code="RuleNotFound")
            subjects = p.get("subjects")
            if not isinstance(subjects, list) or not subjects:
                raise bad_request("'subjects' must be a non-empty list.")
            # ED provision-on-demand.md: "can only accept a single group with up to 5 members
            # at a time"
            groups_here = [x for x in subjects if isinstance(x, dict)
                           and x.get("objectTypeName") == "Group"]
            limit = int(cfg["provision_on_demand_max_members"])
            if len(groups_here) > 1 or len(params) > 1 and groups_here:
                raise sync_error(400, "On-demand provisioning accepts a single group at a time.",
                                 sync_code="TooManySubjects")
            for g in groups_here:
                links = (g.get("links") or {}).get("members")
                if isinstance(links, list) and len(links) > limit:
                    raise sync_error(400, f"On-demand provisioning accepts a group with up to "
                                     f"{limit} members at a time; {len(links)} were given.",
                                     sync_code="TooManyMembers")
            for subj in subjects:
                if not isinstance(subj, dict) or subj.get("objectTypeName") not in ("User", "Group") \
                        or not is_guid(subj.get("objectId")):
                    raise bad_request("Each subject needs objectId (GUID) and objectTypeName "
                                      "(User or Group).")
                results.append(self._provision_one(sp, job, rule, subj))
        worst = next((r for r in results if r[0] == "Failure"), None) or \
            next((r for r in results if r[0] == "Skipped"), None) or results[0]
        key_obj = {"result": worst[0], "details": worst[1]}
        value_obj = worst[2] if len(results) == 1 else {"results": [r[2] for r in results]}
        return 200, [], {"@odata.context": ctx.odata("microsoft.graph.stringKeyStringValuePair"),
                         "key": json.dumps(key_obj), "value": json.dumps(value_obj)}

    def _provision_one(self, sp: JSON, job: JSON, rule: JSON,
                       subj: JSON) -> Tuple[str, JSON, JSON]:
        kind = subj["objectTypeName"]
        oid = subj["objectId"].lower()
        obj = (self.s.users if kind == "User" else self.s.groups).get(oid)
        om = next((m for m in rule["objectMappings"] if m.get("sourceObjectName") == kind), None)
        steps: List[JSON] = []

        def step(name: str, typ: str, status: str, desc: str) -> None:
            steps.append({"name": name, "provisioningStepType": typ, "status": status,
                          "description": desc, "details": {}})

        def done(result: str, code: Optional[str], msg: Optional[str],
                 props: Optional[List[JSON]] = None) -> Tuple[str, JSON, JSON]:
            status = {"Success": "success", "Failure": "failure", "Skipped": "skipped"}[result]
            value = {"provisioningSteps": steps, "modifiedProperties": props or [],
                     "statusInfo": {"@odata.type": "#microsoft.graph.statusDetails",
                                    "status": status, "errorCategory": None if result == "Success"
                                    else "NonServiceFailure", "errorCode": code,
                                    "reason": msg, "additionalDetails": None,
                                    "recommendedAction": None},
                     "sourceIdentity": {"id": oid, "displayName": obj["displayName"] if obj else None,
                                        "identityType": kind},
                     "targetIdentity": {"id": None, "displayName": None,
                                        "identityType": om["targetObjectName"] if om else None}}
            return result, {"errorCode": code, "errorMessage": msg}, value

        if obj is None:
            step("EntryImport", "import", "failure", f"The {kind} {oid} was not found in "
                 f"{AAD_DIR}.")
            return done("Failure", "EntryImportObjectNotFound", f"The {kind} was not found.")
        step("EntryImport", "import", "success", f"Retrieved {kind} '{obj['displayName']}' from "
             f"{AAD_DIR}.")
        users, groups = self._scope(sp, on_demand=True)
        if (kind == "User" and oid not in users) or (kind == "Group" and oid not in groups):
            step("EntrySynchronizationScoping", "scoping", "skipped",
                 f"The {kind} is not in scope: it is neither assigned to the application nor a "
                 "direct member of an assigned security group.")
            return done("Skipped", "NotEffectivelyEntitled",
                        f"The {kind.lower()} is not assigned to the application (nested group "
                        "members are not provisioned).")
        if om is None or not om.get("enabled"):
            step("EntrySynchronizationScoping", "scoping", "skipped",
                 f"Provisioning of {kind} objects is disabled in the attribute mappings.")
            return done("Skipped", "ObjectTypeDisabled",
                        f"The object mapping for {kind} is disabled.")
        step("EntrySynchronizationScoping", "scoping", "success", f"The {kind} is in scope.")
        token = self.s.sync_secrets.get(sp["id"], {}).get("SecretToken")
        if self._token_rejected(token):
            step("EntryExportAdd", "export", "failure",
                 "The SCIM endpoint answered 401 Unauthorized.")
            return done("Failure", "SystemForCrossDomainIdentityManagementUnauthorized",
                        "The SCIM endpoint rejected the secret token (HTTP 401).")
        props = [{"displayName": am["targetAttributeName"], "oldValue": None,
                  "newValue": self._eval_source(am["source"], obj, kind)}
                 for am in om["attributeMappings"]]
        rejected = [am["targetAttributeName"] for am in om["attributeMappings"]
                    if am["targetAttributeName"] in self.s.config["target_rejects_attributes"]]
        if kind == "Group":
            members = [m for m in obj["_members"] if m in self.s.users]
            links = (subj.get("links") or {}).get("members")
            if isinstance(links, list):
                wanted = {lk.get("objectId", "").lower() for lk in links if isinstance(lk, dict)}
                members = [m for m in members if m in wanted]
            for pr in props:
                if pr["displayName"] == "members":
                    pr["newValue"] = json.dumps(members)
        attributes = {p["displayName"]: p["newValue"] for p in props if p["newValue"] is not None}
        member_ids = members if kind == "Group" else []
        already = job["_provisioned"].get(oid)
        if already is not None and already["attributes"] == attributes and all(
                m in job["_provisioned"] for m in member_ids):
            # MGD synchronization-synchronizationjob-provisionondemand.md (v1.0 example):
            # an object already provisioned as it is gives Skipped / RedundantExport.
            step("EntryMatching", "matching", "success",
                 f"A matching entry was found in {TARGET_DIR}.")
            step("EntryExportUpdate", "export", "skipped",
                 f"The {kind} is already provisioned with these values; nothing was exported.")
            return done("Skipped", "RedundantExport",
                        "The object is already provisioned as it is in the source; no export "
                        "was needed.", [p for p in props if p["newValue"] is not None])
        step("EntryMatching", "matching", "success",
             f"No matching entry was found in {TARGET_DIR}; it will be created.")
        if rejected:
            step("EntryExportAdd", "export", "failure",
                 f"The SCIM endpoint rejected the attribute(s) {', '.join(rejected)}.")
            return done("Failure", "SystemForCrossDomainIdentityManagementServiceIncompatible",
                        f"The target rejected attribute(s): {', '.join(rejected)}.",
                        [p for p in props if p["newValue"] is not None])
        step("EntryExportAdd", "export", "success", f"{kind} '{obj['displayName']}' was created "
             f"in {TARGET_DIR}.")
        job["_provisioned"][oid] = {"type": kind, "attributes": attributes}
        for m in member_ids:
            job["_provisioned"].setdefault(m, {"type": "User", "attributes": {}})
        return done("Success", None, None, [p for p in props if p["newValue"] is not None])

    def _eval_source(self, src: JSON, obj: JSON, kind: str) -> Optional[str]:
        typ = src.get("type")
        if typ == "Constant":
            return src.get("name")
        if typ == "Attribute":
            v = _source_value(obj, kind, src.get("name") or "")
            return None if v is None else str(v)
        if typ == "Function":
            name = (src.get("name") or "").lower()
            args = [self._eval_source(p["value"], obj, kind) for p in src.get("parameters") or []
                    if isinstance(p, dict) and isinstance(p.get("value"), dict)]
            if name == "switch" and args:
                soft = "True" if not obj.get("_accountEnabled", True) else "False"
                return "False" if soft == "True" else "True"
            if name == "join" and args:
                return args[0].join(a for a in args[1:] if a) if args[0] is not None else None
            return None
        return None


def _source_value(obj: JSON, kind: str, name: str) -> Any:
    if name == "objectId":
        return obj["id"]
    if kind == "User":
        m = {"mailNickname": obj.get("_mailNickname"), "department": obj.get("_department"),
             "employeeId": obj.get("_employeeId"), "manager": obj.get("_manager"),
             "IsSoftDeleted": not obj.get("_accountEnabled", True),
             "accountEnabled": obj.get("_accountEnabled", True),
             "telephoneNumber": (obj.get("businessPhones") or [None])[0],
             "mobile": obj.get("mobilePhone"), "physicalDeliveryOfficeName": obj.get("officeLocation")}
        if name in m:
            return m[name]
    if name == "members":
        return None
    return obj.get(name)
