"""Okta's filter and search expressions (`filter=`, `search=`)."""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Dict, List, Optional, Tuple


# ---------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*")|([^\s()"]+))')


def _tokenize(expr: str) -> List[Tuple[str, str]]:
    out: List[Tuple[str, str]] = []
    pos = 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN_RE.match(expr, pos)
        if not m or m.end() == pos:
            raise ValueError(f"unexpected character at {pos}")
        pos = m.end()
        if m.group(1):
            out.append(("(", "("))
        elif m.group(2):
            out.append((")", ")"))
        elif m.group(3) is not None:
            out.append(("str", json.loads(m.group(3))))
        else:
            out.append(("word", m.group(4)))
        while pos < len(expr) and expr[pos].isspace():
            pos += 1
    return out


def parse_expression(expr: str, fields: Dict[str, set]) -> Callable[[Callable[[str], Any]], bool]:
    """Parse `a eq "x" and (b sw "y" or c co "z")`.  `fields` maps each allowed attribute
    to its allowed operators.  Returns a predicate taking a getter(attribute) -> value.
    String comparisons are case-insensitive (choice, see OKTA_EMULATOR.md)."""
    toks = _tokenize(expr)
    pos = [0]

    def peek() -> Optional[Tuple[str, str]]:
        return toks[pos[0]] if pos[0] < len(toks) else None

    def take() -> Tuple[str, str]:
        t = peek()
        if t is None:
            raise ValueError("unexpected end of expression")
        pos[0] += 1
        return t

    def primary():
        t = take()
        if t[0] == "(":
            e = disj()
            if take()[0] != ")":
                raise ValueError("missing )")
            return e
        if t[0] != "word":
            raise ValueError("expected an attribute name")
        attr = t[1]
        op = take()
        if op[0] != "word":
            raise ValueError("expected an operator")
        opname = op[1].lower()
        if attr not in fields:
            raise ValueError(f"{attr} is not a supported attribute")
        if opname not in fields[attr]:
            raise ValueError(f"operator {opname} is not supported for {attr}")
        if opname == "pr":
            return lambda get: get(attr) not in (None, "")
        val = take()
        if val[0] == "str":
            value: Any = val[1]
        elif val[0] == "word" and val[1].lower() in ("true", "false"):
            value = val[1].lower() == "true"
        elif val[0] == "word" and re.fullmatch(r"-?\d+", val[1]):
            value = int(val[1])
        else:
            raise ValueError("expected a quoted value")

        def pred(get, attr=attr, opname=opname, value=value):
            actual = get(attr)
            if isinstance(value, bool) or isinstance(value, int):
                return actual == value if opname == "eq" else actual != value
            a = "" if actual is None else str(actual).lower()
            v = str(value).lower()
            if opname == "eq":
                return actual is not None and a == v
            if opname == "ne":
                return a != v
            if opname == "sw":
                return actual is not None and a.startswith(v)
            if opname == "co":
                return actual is not None and v in a
            if opname in ("gt", "ge", "lt", "le"):
                if actual is None:
                    return False
                return {"gt": a > v, "ge": a >= v, "lt": a < v, "le": a <= v}[opname]
            return False

        return pred

    def conj():
        left = primary()
        while True:
            t = peek()
            if t and t[0] == "word" and t[1].lower() == "and":
                take()
                right = primary()
                left = (lambda l, r: (lambda get: l(get) and r(get)))(left, right)
            else:
                return left

    def disj():
        left = conj()
        while True:
            t = peek()
            if t and t[0] == "word" and t[1].lower() == "or":
                take()
                right = conj()
                left = (lambda l, r: (lambda get: l(get) or r(get)))(left, right)
            else:
                return left

    if not toks:
        raise ValueError("empty expression")
    e = disj()
    if peek() is not None:
        raise ValueError("trailing tokens")
    return e


def dotted(obj: Any, path: str) -> Any:
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


# ---------------------------------------------------------------------------------------
# Permissions (https://developer.okta.com/docs/guides/create-an-api-token/main/,
# https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/).  Every endpoint
# names the Okta scopes it needs.
# SSWS tokens act with their admin's roles; OAuth tokens need the scope AND a role.
