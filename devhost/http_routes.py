"""Route templates of HTTP triggers (`items/{id:int}/{name?}`, `{*path}`) matched as the Functions host does."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_PARAM = re.compile(r"^\{(?P<star>\*)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<constraint>[a-z]+))?(?P<opt>\?)?\}$")
_CONSTRAINTS = {
    None: r"[^/]+",
    "int": r"-?\d+",
    "long": r"-?\d+",
    "alpha": r"[A-Za-z]+",
    "bool": r"(?i:true|false)",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
    "float": r"-?\d+(?:\.\d+)?",
    "double": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
    "datetime": r"[^/]+",
}


class RouteTemplateError(ValueError):
    pass


# Per-segment ranks of ASP.NET Core's inbound route precedence (RoutePrecedence.ComputeInbound), which the
# Functions host's router uses: a lower rank is tried first, segment by segment from the left.
_LITERAL, _CONSTRAINED, _PARAMETER, _CONSTRAINED_CATCH_ALL, _CATCH_ALL = 1, 2, 3, 4, 5
_INT32 = (-2**31, 2**31 - 1)
_INT64 = (-2**63, 2**63 - 1)
_RANGES = {"int": _INT32, "long": _INT64}


@dataclass
class CompiledRoute:
    template: str
    pattern: re.Pattern
    literal_segments: int
    parameter_count: int
    target: Any
    precedence: tuple[int, ...] = ()
    constraints: dict[str, str] | None = None

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path.strip("/"))
        if not found:
            return None
        params = {key: value for key, value in found.groupdict().items() if value is not None}
        for name, constraint in (self.constraints or {}).items():
            if name in params and constraint in _RANGES:
                low, high = _RANGES[constraint]
                if not low <= int(params[name]) <= high:
                    return None
        return params


def compile_route(template: str, target: Any) -> CompiledRoute:
    segments = [s for s in template.strip("/").split("/") if s]
    regex = ""
    literals = params = 0
    precedence: list[int] = []
    constraints: dict[str, str] = {}
    names: set[str] = set()
    for index, segment in enumerate(segments):
        sep = "/" if index else ""
        found = _PARAM.match(segment)
        if not found:
            if "{" in segment or "}" in segment:
                raise RouteTemplateError(f"route '{template}': unsupported segment '{segment}'")
            regex += re.escape(sep + segment)
            literals += 1
            precedence.append(_LITERAL)
            continue
        params += 1
        name, constraint = found["name"], found["constraint"]
        if constraint not in _CONSTRAINTS:
            raise RouteTemplateError(f"route '{template}': unknown constraint '{constraint}'")
        if name.lower() in names:
            raise RouteTemplateError(f"route '{template}': parameter '{name}' appears more than once")
        names.add(name.lower())
        if constraint:
            constraints[name] = constraint
        if found["star"]:
            if index != len(segments) - 1:
                raise RouteTemplateError(f"route '{template}': a catch-all must be the last segment")
            precedence.append(_CONSTRAINED_CATCH_ALL if constraint else _CATCH_ALL)
            body = f"(?P<{name}>{_CONSTRAINTS[constraint] if constraint else '.*'})"
            regex += f"(?:{re.escape(sep)}{body})?" if sep else f"{body}?" if constraint else body
            continue
        if found["opt"] and index != len(segments) - 1:
            raise RouteTemplateError(f"route '{template}': only the last segment can be optional")
        precedence.append(_CONSTRAINED if constraint else _PARAMETER)
        body = f"(?P<{name}>{_CONSTRAINTS[constraint]})"
        if found["opt"]:
            regex += f"(?:{re.escape(sep)}{body})?"
        else:
            regex += re.escape(sep) + body
    return CompiledRoute(template, re.compile(regex, re.IGNORECASE), literals, params, target,
                         tuple(precedence), constraints)


class RouteTable:
    """Routes in the host's precedence, whatever the order they were added in.

    Segment by segment from the left, a literal beats a constrained parameter, which beats a plain
    parameter, which beats a catch-all: `jobs/latest` beats `jobs/{id:int}` beats `jobs/{name}` beats
    `jobs/{*rest}`, and `a/b/{x}` beats `a/{y}/c`. Ties go to the template in alphabetical order.
    """

    def __init__(self) -> None:
        self._routes: list[CompiledRoute] = []

    def add(self, template: str, target: Any) -> None:
        self._routes.append(compile_route(template, target))
        self._routes.sort(key=lambda r: (r.precedence, r.template.lower()))

    def match(self, path: str) -> list[tuple[CompiledRoute, dict[str, str]]]:
        found = []
        for route in self._routes:
            params = route.match(path)
            if params is not None:
                found.append((route, params))
        return found
