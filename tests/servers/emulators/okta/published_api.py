"""Only what Okta publishes exists: the API description read from the pinned `okta` SDK package."""

from __future__ import annotations

import ast
import json
import re
from typing import Any, Dict, List, Optional, Tuple

from .common import JSON


# ---------------------------------------------------------------------------------------
# Okta's API description is the pinned `okta` SDK package (scripts/setup-test-env REQUIREMENTS),
# generated from Okta's OpenAPI spec: every `okta/api/*.py` operation names its `method=` and
# `resource_path=`, and every `okta/models/*.py` its `__properties`.  A request to any other
# method + path under /api/ is answered 404 as Okta answers an unknown route; a JSON body with a
# key that is not a property of the operation's published model (or of a model derived from it,
# as OpenIdConnectApplication from Application) is refused with Okta's 400 error shape.  The
# package is read as text, never imported.  Exceptions: OKTA_EMULATOR.md, "Published API".

PUBLISHED_API_FORMAT = 2  # bump when load_published_api reads the package differently
_CLASS_RE = re.compile(r"^class (\w+)\(([\w, ]+)\):", re.M)
_PROPS_RE = re.compile(r"__properties: ClassVar\[List\[str\]\] = \[(.*?)\]", re.S)


def okta_package_dir() -> Optional[str]:
    import importlib.util
    import os
    spec = importlib.util.find_spec("okta")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = list(spec.submodule_search_locations)[0]
    return d if os.path.isdir(os.path.join(d, "api")) else None


def load_published_api(pkg: str) -> JSON:
    """{"ops": [[method, path template, body model or None]], "models": {name: [props]},
    "children": {name: [subclasses]}}, cached next to the package (it never changes)."""
    import glob
    import os
    cache = os.path.join(pkg, ".kiro-published-api.json")
    try:
        with open(cache, encoding="utf-8") as f:
            cached = json.load(f)
        if cached.get("format") == PUBLISHED_API_FORMAT:
            return cached
    except (OSError, ValueError, AttributeError):
        pass
    models: Dict[str, List[str]] = {}
    children: Dict[str, List[str]] = {}
    for path in glob.glob(os.path.join(pkg, "models", "*.py")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for name, bases in _CLASS_RE.findall(text):
            m = _PROPS_RE.search(text)
            if m:
                models[name] = re.findall(r'"([^"]+)"', m.group(1))
            for base in (b.strip() for b in bases.split(",")):
                children.setdefault(base, []).append(name)
    ops: List[Any] = []
    for path in glob.glob(os.path.join(pkg, "api", "*.py")):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        functions = {n.name: n for n in ast.walk(tree)
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for name, fn in functions.items():
            if not name.startswith("_") or not name.endswith("_serialize"):
                continue
            call = next((c for c in ast.walk(fn) if isinstance(c, ast.Call)
                         and {"method", "resource_path"} <= {k.arg for k in c.keywords}), None)
            if call is None:
                continue
            kw = {k.arg: k.value for k in call.keywords}
            if not all(isinstance(kw[k], ast.Constant) for k in ("method", "resource_path")):
                continue
            body_param = next((a.value.id for a in ast.walk(fn) if isinstance(a, ast.Assign)
                               and any(isinstance(t, ast.Name) and t.id == "_body_params"
                                       for t in a.targets)
                               and isinstance(a.value, ast.Name)), None)
            body_model = None
            public = functions.get(name[1:-len("_serialize")])
            if body_param and public is not None:
                for arg in public.args.args:
                    ann = arg.annotation
                    if isinstance(ann, ast.Subscript) and isinstance(ann.value, ast.Name) \
                            and ann.value.id == "Optional":
                        ann = ann.slice
                    if arg.arg == body_param and isinstance(ann, ast.Name) and ann.id in models:
                        body_model = ann.id
            ops.append([kw["method"].value, kw["resource_path"].value, body_model])
    out = {"format": PUBLISHED_API_FORMAT, "ops": ops, "models": models, "children": children}
    try:
        with open(cache + ".tmp", "w", encoding="utf-8") as f:
            json.dump(out, f)
        os.replace(cache + ".tmp", cache)
    except OSError:
        pass
    return out


class PublishedApi:
    def __init__(self, described: JSON) -> None:
        self.ops = [(m, re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(t)) + "$"), t, b)
                    for m, t, b in described["ops"]]
        self.models = described["models"]
        self.children = described["children"]

    def properties(self, model: str) -> set:
        seen, todo, props = set(), [model], set()
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            props |= set(self.models.get(m, []))
            todo.extend(self.children.get(m, []))
        return props

    def find(self, method: str, path: str) -> Optional[Tuple[str, Optional[str]]]:
        """(path template, body model) of the published operation, or None."""
        for m, rx, template, body in self.ops:
            if m == method and rx.match(path):
                return template, body
        return None


# ---------------------------------------------------------------------------------------
# Filter / search expressions (apps `filter`, groups/users `search`)
