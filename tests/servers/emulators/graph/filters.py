"""OData `$filter`: the subset Graph supports on the resources the tool reads."""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Tuple

from .common import JSON
from .errors import GraphError, bad_request


# ---------------------------------------------------------------------------------------
# OData $filter (the subset the tool needs: eq / and / startswith;
# https://learn.microsoft.com/en-us/graph/api/application-list?view=graph-rest-1.0,
# https://learn.microsoft.com/en-us/graph/aad-advanced-queries)
# ---------------------------------------------------------------------------------------

_FILTER_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)|"
    r"(?P<word>[A-Za-z_][A-Za-z0-9_./]*)|(?P<num>-?\d+))")


def parse_filter(expr: str, fields: Dict[str, str], resource: str) -> Callable[[JSON], bool]:
    """Parse `a eq 'x' and b eq 'y'`, `startswith(a,'x')`, `b eq true`.  `fields` maps
    property name -> type ('str' | 'bool').  Anything else -> Request_UnsupportedQuery, and
    operators that need advanced queries (ne, not, endswith, or…) say so (https://learn.microsoft.com/en-us/graph/aad-advanced-queries)."""
    toks: List[Tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        if expr[pos:].strip() == "":
            break
        m = _FILTER_TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise bad_request(f"Invalid filter clause: syntax error at position {pos} in '{expr}'.")
        kind = m.lastgroup or ""
        toks.append((kind, m.group(kind)))
        pos = m.end()
    i = 0
    preds: List[Callable[[JSON], bool]] = []

    def unsupported(prop: str) -> GraphError:
        return GraphError(400, "Request_UnsupportedQuery",
                          f"Unsupported or invalid query filter clause specified for property "
                          f"'{prop}' of resource '{resource}'.")

    def literal(tok: Tuple[str, str], prop: str) -> Any:
        kind, val = tok
        if fields[prop] == "bool":
            if kind == "word" and val in ("true", "false"):
                return val == "true"
            raise bad_request(f"A binary operator with incompatible types was detected. Found "
                              f"operand types 'Edm.Boolean' and '{kind}' for operator kind 'Equal'.")
        if kind != "str":
            raise bad_request("A binary operator with incompatible types was detected. Found "
                              "operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'.")
        return val[1:-1].replace("''", "'")

    while True:
        if i >= len(toks):
            raise bad_request(f"Invalid filter clause: expression expected at the end of '{expr}'.")
        kind, val = toks[i]
        if kind == "word" and val.lower() == "startswith" and i + 1 < len(toks) and toks[i + 1][0] == "lp":
            try:
                _, prop = toks[i + 2]
                if toks[i + 3][0] != "comma" or toks[i + 5][0] != "rp":
                    raise IndexError
            except IndexError:
                raise bad_request(f"Invalid filter clause: '{expr}'.") from None
            if prop not in fields or fields[prop] != "str":
                raise unsupported(prop)
            lit = literal(toks[i + 4], prop)
            preds.append(lambda o, p=prop, v=lit: isinstance(o.get(p), str)
                         and o[p].lower().startswith(v.lower()))
            i += 6
        elif kind == "word" and val.lower() in ("endswith", "not", "contains"):
            raise GraphError(400, "Request_UnsupportedQuery",
                             f"Operator '{val}' is not supported because the required parameters "
                             "might be missing. Try adding $count=true query parameter and "
                             "ConsistencyLevel:eventual header. Refer to "
                             "https://aka.ms/graph-docs/advanced-queries for more information")
        elif kind == "word":
            prop = val
            if i + 2 >= len(toks):
                raise bad_request(f"Invalid filter clause: '{expr}'.")
            op = toks[i + 1][1].lower() if toks[i + 1][0] == "word" else ""
            if op == "ne":
                raise GraphError(400, "Request_UnsupportedQuery",
                                 "Operator 'ne' is not supported because the required parameters "
                                 "might be missing. Try adding $count=true query parameter and "
                                 "ConsistencyLevel:eventual header. Refer to "
                                 "https://aka.ms/graph-docs/advanced-queries for more information")
            if op != "eq":
                raise bad_request(f"Invalid filter clause: '{expr}'.")
            if prop not in fields:
                raise unsupported(prop)
            lit = literal(toks[i + 2], prop)
            if fields[prop] == "str":
                # directory string comparisons are case-insensitive
                preds.append(lambda o, p=prop, v=lit: isinstance(o.get(p), str)
                             and o[p].lower() == v.lower())
            else:
                preds.append(lambda o, p=prop, v=lit: bool(o.get(p)) == v)
            i += 3
        else:
            raise bad_request(f"Invalid filter clause: '{expr}'.")
        if i >= len(toks):
            break
        kind, val = toks[i]
        if kind == "word" and val.lower() == "and":
            i += 1
            continue
        if kind == "word" and val.lower() == "or":
            raise GraphError(400, "Request_UnsupportedQuery",
                             "Operator 'or' is not supported by the emulator (see GRAPH_EMULATOR.md).")
        raise bad_request(f"Invalid filter clause: unexpected '{val}' in '{expr}'.")
    return lambda o: all(p(o) for p in preds)
