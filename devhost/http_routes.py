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


@dataclass
class CompiledRoute:
    template: str
    pattern: re.Pattern
    literal_segments: int
    parameter_count: int
    target: Any

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path.strip("/"))
        if not found:
            return None
        return {key: value for key, value in found.groupdict().items() if value is not None}


def compile_route(template: str, target: Any) -> CompiledRoute:
    segments = [s for s in template.strip("/").split("/") if s]
    regex = ""
    literals = params = 0
    for index, segment in enumerate(segments):
        sep = "/" if index else ""
        found = _PARAM.match(segment)
        if not found:
            if "{" in segment or "}" in segment:
                raise RouteTemplateError(f"route '{template}': unsupported segment '{segment}'")
            regex += re.escape(sep + segment)
            literals += 1
            continue
        params += 1
        name, constraint = found["name"], found["constraint"]
        if constraint not in _CONSTRAINTS:
            raise RouteTemplateError(f"route '{template}': unknown constraint '{constraint}'")
        if found["star"]:
            if index != len(segments) - 1:
                raise RouteTemplateError(f"route '{template}': a catch-all must be the last segment")
            body = f"(?P<{name}>.*)"
            regex += f"(?:{re.escape(sep)}{body})?" if sep else body
            continue
        body = f"(?P<{name}>{_CONSTRAINTS[constraint]})"
        if found["opt"]:
            regex += f"(?:{re.escape(sep)}{body})?"
        else:
            regex += re.escape(sep) + body
    return CompiledRoute(template, re.compile(regex, re.IGNORECASE), literals, params, target)


class RouteTable:
    """Literal segments win over parameters, so `jobs/latest` beats `jobs/{id}` whatever the order."""

    def __init__(self) -> None:
        self._routes: list[CompiledRoute] = []

    def add(self, template: str, target: Any) -> None:
        self._routes.append(compile_route(template, target))
        self._routes.sort(key=lambda r: (-r.literal_segments, r.parameter_count))

    def match(self, path: str) -> list[tuple[CompiledRoute, dict[str, str]]]:
        found = []
        for route in self._routes:
            params = route.match(path)
            if params is not None:
                found.append((route, params))
        return found
