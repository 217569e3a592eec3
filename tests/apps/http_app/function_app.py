"""HTTP routes for the front-door tests: each answers with what it received, so a test can check the mapping."""
import asyncio
import json
import threading

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


def _echo(req: func.HttpRequest, function: str, status: int = 200) -> func.HttpResponse:
    body = {
        "function": function,
        "method": req.method,
        "route_params": dict(req.route_params),
        "params": dict(req.params),
        "headers": {key: req.headers[key] for key in req.headers},
        "body_length": len(req.get_body()),
        "thread": threading.current_thread().name,
    }
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


# -- routing -------------------------------------------------------------------------------------------
@app.route(route="items/latest", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def item_latest(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "item_latest")


@app.route(route="items/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def item_by_id(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "item_by_id")


@app.route(route="orders/{id:int}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def order_by_number(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "order_by_number")


@app.route(route="things/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def thing_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "thing_by_name")


@app.route(route="things/{id:int}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def thing_by_number(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "thing_by_number")


@app.route(route="greet/{name?}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def greet(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"Hello, {req.route_params.get('name', 'nobody')}!")


@app.route(route="files/{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "files")


@app.route(methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def unnamed_route(req: func.HttpRequest) -> func.HttpResponse:
    """No route: the function name is the route."""
    return _echo(req, "unnamed_route")


# -- methods and auth ----------------------------------------------------------------------------------
@app.route(route="only-get", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def only_get(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "only_get")


@app.route(route="secure", methods=["GET", "POST"])
def secure(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "secure")


@app.route(route="admin-only", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "admin_only")


@app.route(route="open", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def open_route(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "open_route")


# -- request and response mapping ----------------------------------------------------------------------
@app.route(route="echo", methods=["GET", "POST", "PUT"], auth_level=func.AuthLevel.ANONYMOUS)
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req, "echo")


@app.route(route="binary", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def binary(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.get_body(), mimetype="application/octet-stream")


@app.route(route="status/{code:int}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def status(req: func.HttpRequest) -> func.HttpResponse:
    code = int(req.route_params["code"])
    return func.HttpResponse(f"status {code}", status_code=code,
                             headers={"X-Custom": "custom-value", "X-Echo": req.params.get("echo", "")})


@app.route(route="cookies", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def cookies(req: func.HttpRequest) -> func.HttpResponse:
    response = func.HttpResponse("two cookies")
    response.headers.add("Set-Cookie", "a=1")
    response.headers.add("Set-Cookie", "b=2")
    return response


@app.route(route="async-hello", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def async_hello(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0.01)
    return func.HttpResponse(json.dumps({"hello": req.params.get("name"), "async": True,
                                         "thread": threading.current_thread().name}),
                             mimetype="application/json")


@app.route(route="sync-hello", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def sync_hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"hello": req.params.get("name"), "async": False,
                                         "thread": threading.current_thread().name}),
                             mimetype="application/json")


@app.route(route="plain-text", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def plain_text(req: func.HttpRequest) -> str:
    return "just a string"


@app.route(route="boom", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("boom on purpose")


@app.route(route="async-boom", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def async_boom(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("async boom on purpose")
