"""Microsoft's own description of Graph v1.0: every URL template and HTTP method the generated
request builders of the pinned ``msgraph-sdk`` package (PyPI, kiota-generated, installed into
``.venv`` by ``scripts/setup-test-env``) know.

Each ``msgraph/generated/**/*_request_builder.py`` holds one URL template
(``super().__init__(request_adapter, "{+baseurl}/servicePrincipals/{servicePrincipal%2Did}/…{?…}", …)``)
and one ``async def get/post/patch/put/delete`` per method the API description publishes for it
(shared/reference/real-services.md, "Vendor API descriptions to test against").

The graph emulator uses it so that a request the real Graph would not route is refused here too
(GRAPH_EMULATOR.md, "Published-API check"). The index is built once per SDK version and cached
next to the package (``.kiro-graph-api-<version>.json``), because the SDK has thousands of files.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import tempfile
from typing import Dict, List, Optional, Set, Tuple

_TEMPLATE = re.compile(r'super\(\)\.__init__\(\s*request_adapter\s*,\s*"(\{\+baseurl\}[^"]*)"')
_METHOD = re.compile(r"^\s+async def (get|post|patch|put|delete)\(", re.M)
_PARAM = re.compile(r"\{[^{}]+\}")

# Documented requests the SDK does not generate, each with its source (GRAPH_EMULATOR.md lists
# them again with the page):
# - PUT …/jobs/{id}/schema is the documented update (MGD
#   api-reference/v1.0/api/synchronization-synchronizationschema-update.md); the SDK generates
#   PATCH, which the service does not route (msgraph-sdk-python issue #820).
# - GET …/synchronization/secrets has no docs page and no SDK method (only PUT), but answers, and
#   hashicorp/terraform-provider-azuread reads saved secrets with it (synchronization secret
#   resource) - so it is allowed, with the 404 / masked answers the emulator models.
EXCEPTIONS: List[Tuple[str, str]] = [
    ("PUT", "/servicePrincipals/{id}/synchronization/jobs/{id}/schema"),
    ("GET", "/servicePrincipals/{id}/synchronization/secrets"),
]


def sdk_location() -> Tuple[Optional[str], Optional[str]]:
    """(directory of msgraph/generated, version) of the installed msgraph-sdk, or (None, None)."""
    spec = importlib.util.find_spec("msgraph")
    if spec is None or not spec.submodule_search_locations:
        return None, None
    root = list(spec.submodule_search_locations)[0]
    generated = os.path.join(root, "generated")
    if not os.path.isdir(generated):
        return None, None
    version = None
    site = os.path.dirname(root)
    for name in os.listdir(site):
        m = re.fullmatch(r"msgraph_sdk-([^-]+)\.dist-info", name)
        if m:
            version = m.group(1)
    return generated, version


def _normalise(template: str) -> str:
    """`{+baseurl}/a/{b%2Did}/microsoft.graph.c{?x}` -> `/a/{}/c` (lower case). Graph accepts a
    bound action or function with or without its `microsoft.graph.` namespace."""
    path = template[len("{+baseurl}"):]
    path = re.sub(r"\{\?[^}]*\}$", "", path)
    segments = []
    for seg in path.strip("/").split("/"):
        seg = _PARAM.sub("{}", seg)
        if seg.startswith("microsoft.graph."):
            seg = seg[len("microsoft.graph."):]
        segments.append(seg.lower())
    return "/" + "/".join(segments)


def build_index(generated: str) -> Dict[str, List[str]]:
    index: Dict[str, Set[str]] = {}
    for dirpath, _dirs, files in os.walk(generated):
        for name in files:
            if not name.endswith("_request_builder.py"):
                continue
            with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                text = f.read()
            m = _TEMPLATE.search(text)
            if not m:
                continue
            methods = {x.upper() for x in _METHOD.findall(text)}
            if methods:
                index.setdefault(_normalise(m.group(1)), set()).update(methods)
    return {k: sorted(v) for k, v in index.items()}


def load_index() -> Tuple[Dict[str, List[str]], str]:
    """The index and the SDK version; raises RuntimeError when msgraph-sdk is not installed."""
    generated, version = sdk_location()
    if generated is None:
        raise RuntimeError("msgraph-sdk is not installed: run scripts/setup-test-env "
                           "(or start the emulator with --no-published-api-check)")
    cache = os.path.join(os.path.dirname(os.path.dirname(generated)),
                         f".kiro-graph-api-{version or 'unknown'}.json")
    try:
        with open(cache, encoding="utf-8") as f:
            return json.load(f), version or "unknown"
    except (OSError, ValueError):
        pass
    index = build_index(generated)
    try:  # atomic: several emulators may start at once
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(cache), suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(index, f)
        os.replace(tmp, cache)
    except OSError:
        pass
    return index, version or "unknown"


class PublishedApi:
    """Matches a request path (below /v1.0) against the published templates."""

    def __init__(self, index: Dict[str, List[str]], version: str) -> None:
        self.version = version
        # segment trie: literal segments, "{}" for a whole-segment parameter, and segment
        # patterns with parameters inside (`applications(appId='{}')`)
        self.root: Dict[str, object] = {}
        for path, methods in index.items():
            self._add(path, set(methods))
        for method, path in EXCEPTIONS:
            self._add(_normalise("{+baseurl}" + path), {method})

    def _add(self, path: str, methods: Set[str]) -> None:
        node = self.root
        for seg in path.strip("/").split("/"):
            if "{}" in seg and seg != "{}":
                patterns = node.setdefault("\0patterns", {})
                node = patterns.setdefault(seg, {})  # type: ignore[union-attr]
            else:
                node = node.setdefault(seg, {})  # type: ignore[assignment]
        node.setdefault("\0methods", set()).update(methods)  # type: ignore[union-attr]

    @staticmethod
    def _segment_matches(pattern: str, seg: str) -> bool:
        regex = "^" + "[^/]*".join(re.escape(p) for p in pattern.split("{}")) + "$"
        return re.match(regex, seg) is not None

    def methods(self, path: str) -> Optional[Set[str]]:
        """The methods published for `path` (None: the path itself is not published)."""
        segs = [s.lower() for s in path.strip("/").split("/") if s]
        if segs[:1] == ["me"]:
            # the SDK builds /me as /users/{id} (msgraph/graph_request_adapter.py replaces
            # "/users/me-token-to-replace" with "/me")
            segs = ["users", "me"] + segs[1:]
        segs = [s[len("microsoft.graph."):] if s.startswith("microsoft.graph.") else s
                for s in segs]
        found: Set[str] = set()
        matched = False
        stack = [(self.root, 0)]
        while stack:
            node, i = stack.pop()
            if i == len(segs):
                if "\0methods" in node:
                    matched = True
                    found |= node["\0methods"]  # type: ignore[operator]
                continue
            seg = segs[i]
            if seg in node:
                stack.append((node[seg], i + 1))  # type: ignore[arg-type]
            if "{}" in node:
                stack.append((node["{}"], i + 1))  # type: ignore[arg-type]
            for pattern, child in node.get("\0patterns", {}).items():  # type: ignore[union-attr]
                if self._segment_matches(pattern, seg):
                    stack.append((child, i + 1))
        return found if matched else None


if __name__ == "__main__":  # print the index size, for a quick look
    idx, ver = load_index()
    print(f"msgraph-sdk {ver}: {len(idx)} URL templates")
