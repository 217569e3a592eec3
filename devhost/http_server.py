"""The HTTP front door: function routes under the route prefix, the durable management webhooks, admin routes;
and, on a listener of its own, the Durable SDK's RPC endpoint."""
from __future__ import annotations

import errno
import logging
import os
import random
from typing import Callable, Iterator

import azure.functions as func
from aiohttp import web
from multidict import CIMultiDict

from .app_loader import AppIndex, FunctionSpec
from .durable.management import RPC_PATH, WEBHOOK_PATH, ManagementApi
from .http_routes import RouteTable
from .invoker import InvocationFailed, Invoker
from .keys import HostKeys

log = logging.getLogger("devhost.http")
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
DEFAULT_BODY_LIMIT_BYTES = 100 * 1024 * 1024  # the Functions host's HTTP request limit; larger bodies are a 413
RPC_HOST = "127.0.0.1"
DEFAULT_RPC_PORT = 17071
RPC_FALLBACK_PORTS = range(30000, 31000)  # the extension's range: below the usual ephemeral ports
RPC_ATTEMPTS = 10


def presented_key(request: web.Request) -> str | None:
    return request.headers.get("x-functions-key") or request.query.get("code")


def request_headers(request: web.Request) -> dict[str, str]:
    """A header sent several times reaches the function once, its values joined by ', ' as in the host."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def to_function_request(request: web.Request, body: bytes, route_params: dict[str, str]) -> func.HttpRequest:
    return func.HttpRequest(
        method=request.method,
        url=str(request.url),
        headers=request_headers(request),
        params={key: request.query.get(key) for key in request.query.keys()},
        route_params=route_params,
        body=body,
    )


def to_web_response(result) -> web.Response:
    if result is None:
        return web.Response(status=204)
    if isinstance(result, func.HttpResponse):
        headers = CIMultiDict(result.headers.items())  # keeps repeated headers, e.g. several Set-Cookie
        if "Content-Type" not in headers:
            mimetype = result.mimetype or "text/plain"
            headers["Content-Type"] = f"{mimetype}; charset={result.charset}" if result.charset else mimetype
        return web.Response(body=result.get_body(), status=result.status_code, headers=headers)
    if isinstance(result, (bytes, bytearray)):
        return web.Response(body=bytes(result), content_type="application/octet-stream")
    if isinstance(result, str):
        return web.Response(text=result)
    return web.json_response(result)


class HttpFrontend:
    def __init__(self, index: AppIndex, invoker: Invoker, keys: HostKeys, route_prefix: str,
                 management: ManagementApi | None, client_binding: Callable[[], str]):
        self.invoker = invoker
        self.keys = keys
        self.prefix = route_prefix.strip("/")
        self.management = management
        self.client_binding = client_binding
        self.routes = RouteTable()
        self.http_functions = index.by_trigger("httpTrigger")
        for spec in self.http_functions:
            self.routes.add(self.route_of(spec), spec)

    @staticmethod
    def route_of(spec: FunctionSpec) -> str:
        return spec.trigger.get("route") or spec.name

    def public_path(self, spec: FunctionSpec) -> str:
        return "/" + "/".join(p for p in (self.prefix, self.route_of(spec)) if p)

    def methods_of(self, spec: FunctionSpec) -> list[str]:
        return [m.upper() for m in spec.trigger.get("methods") or ALL_METHODS]

    def application(self) -> web.Application:
        limit = int(os.environ.get(BODY_LIMIT_SETTING) or DEFAULT_BODY_LIMIT_BYTES)
        app = web.Application(client_max_size=limit)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith(WEBHOOK_PATH + "/") and self.management:
            if not self.keys.allows("system", presented_key(request)):
                return web.json_response({"message": "a system key (code=...) is required"}, status=401)
            return await self.management.handle(request, path[len(WEBHOOK_PATH):], rpc=False)
        if path.startswith("/admin/"):
            return await self.admin(request, path)
        if path in ("/", ""):
            return web.Response(text="Your Functions app is up and running (local runtime).")
        prefix = f"/{self.prefix}" if self.prefix else ""
        if prefix and not (path == prefix or path.startswith(prefix + "/")):
            return web.Response(status=404)
        return await self.call_function(request, path[len(prefix):])

    async def call_function(self, request: web.Request, route_path: str) -> web.StreamResponse:
        matches = self.routes.match(route_path)
        if not matches:
            return web.Response(status=404)
        allowed = [(route, params) for route, params in matches if request.method in self.methods_of(route.target)]
        if not allowed:
            methods = sorted({m for route, _ in matches for m in self.methods_of(route.target)})
            return web.Response(status=405, headers={"Allow": ", ".join(methods)})
        route, params = allowed[0]
        spec: FunctionSpec = route.target
        if not self.keys.allows(spec.trigger.get("authLevel", "FUNCTION"), presented_key(request)):
            return web.Response(status=401)
        body = await request.read()
        arguments = {spec.trigger["name"]: to_function_request(request, body, params)}
        for binding in spec.bindings:
            if binding["type"] == "durableClient":
                arguments[binding["name"]] = self.client_binding()
        try:
            result = await self.invoker.invoke(spec, arguments, reason=f"This function was programmatically "
                                                                     f"called via the host APIs.")
        except InvocationFailed as failure:
            log.error("%s", failure.details)
            return web.json_response({"error": str(failure), "invocationId": failure.invocation_id}, status=500)
        return to_web_response(result)

    async def admin(self, request: web.Request, path: str) -> web.StreamResponse:
        if not self.keys.allows("admin", presented_key(request)):
            return web.Response(status=401)
        if path == "/admin/host/status":
            return web.json_response({"state": "Running", "emulator": "devhost"})
        if path == "/admin/functions" and request.method == "GET":
            return web.json_response(sorted(spec.name for spec in self.http_functions))
        return web.Response(status=404)

    def describe(self, base_url: str) -> list[str]:
        lines = []
        for spec in sorted(self.http_functions, key=lambda s: s.name):
            methods = ",".join(spec.trigger.get("methods") or ["ALL"])
            lines.append(f"  {spec.name}: [{methods}] {base_url}{self.public_path(spec)}")
        return lines


class RpcEndpoint:
    """The Durable extension's local RPC endpoint, `http://127.0.0.1:<port>/durabletask/`, for the SDK's client.

    It needs no key and its start answers carry the system key, so it lives on a loopback listener of its own,
    as in the extension, never on the app's port where a proxy or a browser page could reach it. Callers
    are checked again here: a loopback peer, naming this listener as the host (no DNS rebinding), sending no
    Origin (no browser page).
    """

    def __init__(self, management: ManagementApi):
        self.management = management
        self.runner = web.AppRunner(self.application(), access_log=None)
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://{RPC_HOST}:{self.port}"

    def application(self) -> web.Application:
        limit = int(os.environ.get(BODY_LIMIT_SETTING) or DEFAULT_BODY_LIMIT_BYTES)
        app = web.Application(client_max_size=limit)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    def local_caller(self, request: web.Request) -> bool:
        return (request.remote in LOOPBACK and request.host == f"{RPC_HOST}:{self.port}"
                and "Origin" not in request.headers)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        if not self.local_caller(request):
            return web.Response(status=403)
        if not request.path.startswith(RPC_PATH + "/"):
            return web.Response(status=404)
        return await self.management.handle(request, request.path[len(RPC_PATH):], rpc=True)

    async def start(self, preferred_port: int = DEFAULT_RPC_PORT) -> None:
        """Listen on the preferred port, or when it is taken on a random free one of 30000-30999."""
        await self.runner.setup()
        for port in candidate_ports(preferred_port):
            site = web.TCPSite(self.runner, RPC_HOST, port)
            try:
                await site.start()
            except OSError as error:
                await site.stop()
                if error.errno != errno.EADDRINUSE:
                    raise
                log.debug("port %d is taken; trying another for the durable RPC endpoint", port)
                continue
            self.port = site.port
            log.debug("durable RPC endpoint: %s%s/", self.base_url, RPC_PATH)
            return
        raise OSError(errno.EADDRINUSE, f"no free port for the durable RPC endpoint after {RPC_ATTEMPTS} attempts")

    async def stop(self) -> None:
        await self.runner.cleanup()


def candidate_ports(preferred: int) -> Iterator[int]:
    yield preferred
    yield from random.sample([p for p in RPC_FALLBACK_PORTS if p != preferred], RPC_ATTEMPTS - 1)
