"""Route templates of HTTP triggers: compiling, matching, constraints and precedence (no runtime)."""
from __future__ import annotations

import itertools

import pytest

from devhost.http_routes import RouteTable, RouteTemplateError, compile_route


def match(template: str, path: str) -> dict[str, str] | None:
    return compile_route(template, None).match(path)


def best(templates: list[str], path: str) -> str | None:
    table = RouteTable()
    for template in templates:
        table.add(template, template)
    found = table.match(path)
    return found[0][0].target if found else None


@pytest.mark.parametrize("template,path,expected", [
    ("items", "items", {}),
    ("items", "ITEMS", {}),
    ("items", "/items/", {}),
    ("items", "items/1", None),
    ("items/{id}", "items/abc", {"id": "abc"}),
    ("items/{id}", "items", None),
    ("items/{id}", "items/a/b", None),
    ("items/{id}/parts/{part}", "items/7/parts/wheel", {"id": "7", "part": "wheel"}),
    ("items/{id:int}", "items/42", {"id": "42"}),
    ("items/{id:int}", "items/-3", {"id": "-3"}),
    ("items/{id:int}", "items/abc", None),
    ("items/{id:int}", "items/4.2", None),
    ("items/{id:int}", "items/2147483647", {"id": "2147483647"}),
    ("items/{id:int}", "items/2147483648", None),
    ("items/{id:long}", "items/2147483648", {"id": "2147483648"}),
    ("items/{id:alpha}", "items/abc", {"id": "abc"}),
    ("items/{id:alpha}", "items/ab1", None),
    ("flags/{on:bool}", "flags/True", {"on": "True"}),
    ("flags/{on:bool}", "flags/yes", None),
    ("jobs/{id:guid}", "jobs/1b4e28ba-2fa1-11d2-883f-0016d3cca427", {"id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"}),
    ("jobs/{id:guid}", "jobs/not-a-guid", None),
    ("prices/{p:double}", "prices/3.25", {"p": "3.25"}),
    ("greet/{name?}", "greet", {}),
    ("greet/{name?}", "greet/ann", {"name": "ann"}),
    ("greet/{name?}", "greet/ann/bob", None),
    ("page/{n:int?}", "page", {}),
    ("page/{n:int?}", "page/2", {"n": "2"}),
    ("page/{n:int?}", "page/two", None),
    ("files/{*path}", "files", {}),
    ("files/{*path}", "files/a.txt", {"path": "a.txt"}),
    ("files/{*path}", "files/a/b/c.txt", {"path": "a/b/c.txt"}),
    ("files/{*path}", "filesystem", None),
    ("{*everything}", "any/thing/at/all", {"everything": "any/thing/at/all"}),
    ("a.b/{x}", "a.b/1", {"x": "1"}),
    ("a.b/{x}", "aXb/1", None),  # literals are literal, not regular expressions
])
def test_match(template, path, expected):
    assert match(template, path) == expected


@pytest.mark.parametrize("template,message", [
    ("items/{id:nope}", "unknown constraint 'nope'"),
    ("files/{*path}/more", "catch-all must be the last segment"),
    ("items/x{id}", "unsupported segment 'x{id}'"),
    ("items/{id", "unsupported segment"),
    ("items/{1id}", "unsupported segment"),
    ("a/{x}/b/{X}", "appears more than once"),
    ("a/{x?}/b", "only the last segment can be optional"),
])
def test_invalid_templates_are_rejected_with_a_message(template, message):
    with pytest.raises(RouteTemplateError, match="route .*" + message.replace("(", r"\(").replace("{", r"\{")):
        compile_route(template, None)


@pytest.mark.parametrize("templates,path,winner", [
    (["jobs/{id}", "jobs/latest"], "jobs/latest", "jobs/latest"),
    (["jobs/{id}", "jobs/latest"], "jobs/other", "jobs/{id}"),
    (["things/{name}", "things/{id:int}"], "things/7", "things/{id:int}"),
    (["things/{name}", "things/{id:int}"], "things/x", "things/{name}"),
    (["files/{*path}", "files/{name}"], "files/a.txt", "files/{name}"),
    (["files/{*path}", "files/{name}"], "files/a/b.txt", "files/{*path}"),
    (["{*all}", "files/{*path}"], "files/a", "files/{*path}"),
    (["a/{x}/c", "a/b/{y}"], "a/b/c", "a/b/{y}"),  # decided at the first segment that differs
    (["greet/{name?}", "greet"], "greet", "greet"),
    (["greet/{name?}", "greet"], "greet/ann", "greet/{name?}"),
    (["{*all}", "api-docs"], "api-docs", "api-docs"),
])
def test_precedence_does_not_depend_on_declaration_order(templates, path, winner):
    for order in itertools.permutations(templates):
        assert best(list(order), path) == winner, order


def test_table_returns_every_match_best_first():
    table = RouteTable()
    for template in ["{*all}", "items/{id}", "items/{id:int}", "items/5"]:
        table.add(template, template)
    found = table.match("items/5")
    assert [route.target for route, _ in found] == ["items/5", "items/{id:int}", "items/{id}", "{*all}"]
    assert [params for _, params in found] == [{}, {"id": "5"}, {"id": "5"}, {"all": "items/5"}]
    assert table.match("nothing/here/") == [(found[-1][0], {"all": "nothing/here"})]


def test_empty_table_matches_nothing():
    assert RouteTable().match("anything") == []
