"""Control of the synchronization cycles (quarantine, run a cycle) for tests."""

from __future__ import annotations

from typing import Any, Callable

from .common import JSON, strip_private
from .state import State


class SyncControlMixin:
    s: State
    run_cycle: Callable[..., JSON]
    quarantine: Callable[..., None]

    def _control_job(self, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise ValueError("body must be an object")
        jid = body.get("job_id")
        if jid is None:
            if len(self.s.jobs) != 1:
                raise ValueError(f"job_id is required ({len(self.s.jobs)} jobs exist)")
            return next(iter(self.s.jobs.values()))
        if jid not in self.s.jobs:
            raise ValueError(f"unknown job {jid!r}")
        return self.s.jobs[jid]

    def quarantine_control(self, body: Any) -> JSON:
        job = self._control_job(body)
        reason = body.get("reason", "EncounteredQuarantineException")
        allowed = {"EncounteredBaseEscrowThreshold", "EncounteredTotalEscrowThreshold",
                   "EncounteredEscrowProportionThreshold", "EncounteredQuarantineException",
                   "QuarantinedOnDemand", "TooManyDeletes", "IngestionInterrupted", "Unknown"}
        if reason not in allowed:
            raise ValueError(f"reason must be one of {sorted(allowed)}")  # https://learn.microsoft.com/en-us/entra/identity/app-provisioning/how-provisioning-works
        err = body.get("error")
        if err is not None and not isinstance(err, dict):
            raise ValueError("error must be {code, message, tenantActionable}")
        self.quarantine(job, reason, err)
        return strip_private(job)

    def cycle_control(self, body: Any) -> JSON:
        job = self._control_job(body)
        state = body.get("state", "Succeeded")
        if state not in ("Succeeded", "Failed", "EntryLevelErrors"):
            raise ValueError("state must be Succeeded, Failed or EntryLevelErrors")
        err = body.get("error") or (None if state == "Succeeded" else {
            "code": "SystemForCrossDomainIdentityManagementServiceIncompatible",
            "message": "Simulated provisioning failure.", "tenantActionable": True})
        self.run_cycle(job, state, err)
        return strip_private(job)
