"""The test-control API every local server serves under one prefix, never under a vendor path:
seeding, configuration, injected faults, state dumps (each server's README section lists its
endpoints)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

CONTROL_PREFIX = "/_control"


def is_control_path(path: str) -> bool:
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


def take_fault(faults: List[Dict[str, Any]], method: str, path: str, counter: str) -> Optional[Dict[str, Any]]:
    """The first injected fault that still has uses left (`counter`) and matches the request's
    method and path prefix, with one use taken; None when none does."""
    for fault in faults:
        if fault[counter] <= 0:
            continue
        if fault.get("method") and fault["method"].upper() != method:
            continue
        if fault.get("path_prefix") and not path.startswith(fault["path_prefix"]):
            continue
        fault[counter] -= 1
        fault["fired"] = fault.get("fired", 0) + 1
        return fault
    return None
