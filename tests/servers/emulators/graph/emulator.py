"""The emulator: every area's handlers and the routes to them."""

from __future__ import annotations


from .applications import AppsMixin
from .assignments import AssignmentsMixin
from .control import ControlMixin
from .core import EmulatorCore
from .directory import DirectoryMixin
from .identity_platform import IdentityPlatformMixin
from .registration import RegistrationMixin
from .request_log import RequestLogMixin
from .signin import SigninMixin
from .sync_control import SyncControlMixin
from .synchronization import SyncMixin


class Emulator(SigninMixin, SyncControlMixin, SyncMixin, AssignmentsMixin, RegistrationMixin, AppsMixin, DirectoryMixin,
               RequestLogMixin, IdentityPlatformMixin, ControlMixin, EmulatorCore):
    """Every area's handlers, and the routes to them (paths are relative to /v1.0; /beta serves
    only what the tool needs there)."""

    def _register_routes(self) -> None:
        r = self.route
        r("GET", "/me", self.get_me)
        r("GET", "/organization", self.get_organization)
        r("GET", "/users", self.list_users)
        r("GET", "/users/{uid}", self.get_user)
        r("GET", "/groups", self.list_groups)
        r("GET", "/groups/{gid}", self.get_group)
        r("GET", "/groups/{gid}/members", self.list_group_members)
        r("GET", "/applicationTemplates", self.list_templates)
        r("GET", "/applicationTemplates/{tid}", self.get_template)
        r("POST", "/applicationTemplates/{tid}/instantiate", self.instantiate)
        r("GET", "/applications", self.list_applications)
        r("POST", "/applications", self.create_application)
        r("GET", r"/applications\(appId='(?P<appid>[^']*)'\)", self.get_application_altkey)
        r("GET", "/applications/{key}", self.get_application)
        r("PATCH", "/applications/{key}", self.patch_application)
        r("PATCH", r"/applications\(appId='(?P<key>[^']*)'\)", self.patch_application_altkey)
        r("DELETE", "/applications/{key}", self.delete_application)
        r("GET", "/servicePrincipals", self.list_sps)
        r("POST", "/servicePrincipals", self.create_sp)
        r("GET", r"/servicePrincipals\(appId='(?P<appid>[^']*)'\)", self.get_sp_altkey)
        r("GET", "/servicePrincipals/{key}", self.get_sp)
        r("PATCH", "/servicePrincipals/{key}", self.patch_sp)
        alt = r"/servicePrincipals\(appId='(?P<appid>[^']*)'\)"
        for prefix in ("/servicePrincipals/{key}", alt):
            r("GET", prefix + "/appRoleAssignedTo", self.list_assigned_to)
            r("POST", prefix + "/appRoleAssignedTo", self.create_assigned_to)
            r("DELETE", prefix + "/appRoleAssignedTo/{aid}", self.delete_assigned_to)
        sync = "/servicePrincipals/{key}/synchronization"
        job = sync + "/jobs/{job_id}"
        r("GET", sync + "/templates", self.sync_templates)
        r("GET", sync + "/jobs", self.list_jobs)
        r("POST", sync + "/jobs", self.create_job)
        r("GET", sync + "/secrets", self.get_secrets)
        r("PUT", sync + "/secrets", self.put_secrets)
        r("GET", job, self.get_job)
        r("DELETE", job, self.delete_job)
        r("POST", job + "/validateCredentials", self.validate_credentials)
        r("GET", job + "/schema", self.get_schema)
        r("PUT", job + "/schema", self.put_schema)
        r("POST", job + "/start", self.start_job)
        r("POST", job + "/pause", self.pause_job)
        r("POST", job + "/restart", self.restart_job)
        r("POST", job + "/provisionOnDemand", self.provision_on_demand)
        self.restart_job.__func__.beta_ok = True  # type: ignore[attr-defined]
