"""Schedules and inbox arrivals over HTTP."""
from __future__ import annotations

import azure.functions as func

from registry.schedules import ScheduleSpec
from registry.service import current_registry

from .http_api import api, json_body, listing, no_content, preconditions, respond

bp = func.Blueprint()


@api(bp, "schedules", ["GET"], "List schedules (?endpoint=<name> for one endpoint's)", tag="schedules")
def list_schedules(req: func.HttpRequest) -> func.HttpResponse:
    return listing(current_registry().schedules.list(req.params.get("endpoint")))


@api(bp, "schedules/{name}", ["GET"], "Show a schedule with its last and next run", tag="schedules")
def show_schedule(req: func.HttpRequest) -> func.HttpResponse:
    record = current_registry().schedules.get(req.route_params["name"])
    return respond(record.body, record=record)


@api(bp, "schedules/{name}", ["PUT"], "Create or replace a schedule: a trigger (cron or recurrence) and the "
     "invoke it runs (create_job)", request_schema=ScheduleSpec, tag="schedules")
def put_schedule(req: func.HttpRequest) -> func.HttpResponse:
    record, created = current_registry().schedules.create_or_replace(req.route_params["name"], json_body(req),
                                                                      preconditions(req))
    return respond(record.body, 201 if created else 200, record)


@api(bp, "schedules/{name}/enable", ["POST"], "Enable a schedule (missed occurrences are not caught up)",
     tag="schedules")
def enable_schedule(req: func.HttpRequest) -> func.HttpResponse:
    record = current_registry().schedules.set_enabled(req.route_params["name"], True)
    return respond(record.body, record=record)


@api(bp, "schedules/{name}/disable", ["POST"], "Disable a schedule", tag="schedules")
def disable_schedule(req: func.HttpRequest) -> func.HttpResponse:
    record = current_registry().schedules.set_enabled(req.route_params["name"], False)
    return respond(record.body, record=record)


@api(bp, "schedules/{name}", ["DELETE"], "Delete a schedule (its jobs stay)", success_status=204,
     tag="schedules")
def delete_schedule(req: func.HttpRequest) -> func.HttpResponse:
    schedules, conditions = current_registry().schedules, preconditions(req)
    conditions.on_existing(lambda: schedules.delete(req.route_params["name"], conditions.if_match))
    return no_content()


@api(bp, "batchEndpoints/{name}/inbox", ["GET"], "The endpoint's inbox files, newest first, with the job each "
     "went to", tag="batchEndpoints")
def list_inbox(req: func.HttpRequest) -> func.HttpResponse:
    registry = current_registry()
    registry.endpoints.get_endpoint(req.route_params["name"])
    return listing(registry.inboxes.list_arrivals(req.route_params["name"]))
