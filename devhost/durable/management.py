"""The Durable Functions HTTP management API, as the Durable extension serves it.

Served twice: under `/runtime/webhooks/durabletask/` on the app's port for people and check-status URLs
(system key required), and under `/durabletask/` on the local RPC listener for the SDK's
`DurableOrchestrationClient` (the RPC base URL, see `devhost.http_server.RpcEndpoint`). The RPC variant
receives inputs JSON-encoded once more by the SDK.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from urllib.parse import quote

from aiohttp import web

from .dispatcher import OrchestrationDispatcher, new_execution_id, new_instance_row, start_message
from .history import EventType, event, format_time, utc_now
from .messages import control_message
from .taskhub import TERMINAL_STATUSES, TaskHub, as_utc

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask"
STATUS_CODE = {"Completed": 200, "Pending": 202, "Running": 202, "Suspended": 202, "ContinuedAsNew": 202,
               "Failed": 500, "Terminated": 200, "Canceled": 200}
INVALID_ID_CHARACTERS = set("/\\#?") | {chr(c) for c in range(32)}


def client_binding(base_url: str, rpc_url: str, hub_name: str, system_key: str, connection: str = "Storage") -> dict:
    """The JSON the host hands to a function with a durable client input binding: webhook URLs on the app's
    port (`base_url`), the RPC base URL on the local RPC listener (`rpc_url`)."""
    webhook = f"{base_url}{WEBHOOK_PATH}"
    query = f"taskHub={hub_name}&connection={connection}&code={system_key}"
    instance = f"{webhook}/instances/INSTANCEID"
    return {
        "taskHubName": hub_name,
        "creationUrls": {
            "createNewInstancePostUri": f"{webhook}/orchestrators/{{functionName}}[/{{instanceId}}]?code={system_key}",
            "createAndWaitOnNewInstancePostUri":
                f"{webhook}/orchestrators/{{functionName}}[/{{instanceId}}]?timeout={{timeoutInSeconds}}"
                f"&pollingInterval={{intervalInSeconds}}&code={system_key}",
        },
        "managementUrls": management_urls(webhook, "INSTANCEID", query) | {"id": "INSTANCEID"},
        "baseUrl": webhook,
        "requiredQueryStringParameters": f"code={system_key}",
        "rpcBaseUrl": f"{rpc_url}{RPC_PATH}/",
        "httpBaseUrl": f"{base_url}{WEBHOOK_PATH}/",
        "maxGrpcMessageSizeInBytes": 0,
        "grpcHttpClientTimeout": "00:01:40",
    }


def management_urls(webhook: str, instance_id: str, query: str) -> dict:
    instance = f"{webhook}/instances/{instance_id}"
    return {
        "statusQueryGetUri": f"{instance}?{query}",
        "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{instance}/terminate?reason={{text}}&{query}",
        "rewindPostUri": f"{instance}/rewind?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{instance}?{query}",
        "restartPostUri": f"{instance}/restart?{query}",
        "suspendPostUri": f"{instance}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{instance}/resume?reason={{text}}&{query}",
    }


def _flag(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    return default if value is None else value.lower() == "true"


def _json_or_raw(text):
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


class ManagementApi:
    def __init__(self, hub: TaskHub, dispatcher: OrchestrationDispatcher, system_key: str,
                 orchestrator_names: set[str], base_url: str):
        self.hub = hub
        self.dispatcher = dispatcher
        self.system_key = system_key
        self.orchestrator_names = orchestrator_names
        self.base_url = base_url

    async def handle(self, request: web.Request, path: str, rpc: bool) -> web.StreamResponse:
        parts = [p for p in path.split("/") if p]
        method = request.method
        if parts[:1] == ["orchestrators"] and method == "POST" and len(parts) in (2, 3):
            return await self.start(request, parts[1], parts[2] if len(parts) == 3 else None, rpc)
        if parts[:1] == ["instances"]:
            if len(parts) == 1:
                if method == "GET":
                    return await self.list_instances(request)
                if method == "DELETE":
                    return await self.purge_many(request)
            elif len(parts) == 2:
                if method == "GET":
                    return await self.status(request, parts[1], rpc)
                if method == "DELETE":
                    return await self.purge(parts[1])
            elif method == "POST":
                action = parts[2].lower()
                if action == "raiseevent" and len(parts) == 4:
                    return await self.raise_event(request, parts[1], parts[3], rpc)
                if action in ("terminate", "suspend", "resume", "rewind") and len(parts) == 3:
                    return await self.control(request, parts[1], action)
                if action == "restart" and len(parts) == 3:
                    return await self.restart(request, parts[1])
        if parts[:1] == ["entities"]:
            return web.json_response({"message": "durable entities are not supported by the local runtime"},
                                     status=501)
        return web.json_response({"message": f"no durable management route for {method} {path}"}, status=404)

    # -- creation -----------------------------------------------------------------------------------
    async def start(self, request: web.Request, name: str, instance_id: str | None, rpc: bool):
        if name not in self.orchestrator_names:
            message = (f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function. "
                       f"Additional info: known orchestrators are {sorted(self.orchestrator_names)}.")
            return web.json_response({"Message": "One or more of the arguments submitted is incorrect",
                                      "ExceptionMessage": message}, status=400)
        body = await request.text()
        input_json = body or None
        if rpc and body:
            decoded = json.loads(body)
            input_json = decoded if isinstance(decoded, str) or decoded is None else json.dumps(decoded)
        instance_id = instance_id or uuid.uuid4().hex
        if any(ch in INVALID_ID_CHARACTERS for ch in instance_id) or len(instance_id) > 256:
            return web.json_response({"ExceptionMessage": f"Instance ID '{instance_id}' contains invalid characters"},
                                     status=400)
        try:
            await self.create_instance(instance_id, name, input_json)
        except InstanceExists as exists:
            return web.json_response({"ExceptionMessage": str(exists)}, status=409)
        payload = self.status_urls(request, instance_id, rpc)
        return web.json_response(payload, status=202, headers={
            "Location": payload["statusQueryGetUri"], "Retry-After": "10"})

    async def create_instance(self, instance_id: str, name: str, input_json: str | None) -> None:
        existing = await self.hub.get_instance(instance_id)
        if existing and existing["RuntimeStatus"] not in TERMINAL_STATUSES:
            raise InstanceExists(
                f"An Orchestration instance with the status {existing['RuntimeStatus']} already exists.")
        execution_id = new_execution_id()
        if existing:
            await self.hub.delete_history(instance_id)
        await self.hub.put_instance(new_instance_row(instance_id, name, input_json, execution_id))
        await self.hub.send_control(instance_id, start_message(execution_id, name, input_json))
        self.dispatcher.notify(instance_id)

    def status_urls(self, request: web.Request, instance_id: str, rpc: bool) -> dict:
        """Webhook URLs as the caller reached the app; from the RPC listener, as the app's port is reached."""
        origin = self.base_url if rpc else f"{request.scheme}://{request.host}"
        base = f"{origin}{WEBHOOK_PATH}"
        query = f"taskHub={self.hub.hub_name}&connection=Storage&code={self.system_key}"
        urls = management_urls(base, quote(instance_id, safe=""), query)
        return {"id": instance_id, **urls}

    # -- queries ------------------------------------------------------------------------------------
    async def status(self, request: web.Request, instance_id: str, rpc: bool):
        row = await self.hub.get_instance(instance_id)
        if row is None:
            return web.Response(status=404)
        show_input = _flag(request, "showInput", default=not rpc)
        show_history = _flag(request, "showHistory")
        show_history_output = _flag(request, "showHistoryOutput")
        payload = self.status_payload(row, show_input)
        if show_history:
            history = await self.hub.load_history(instance_id, row["ExecutionId"], row["HistoryLength"])
            payload["historyEvents"] = history_for_people(history, show_history_output)
        code = STATUS_CODE.get(row["RuntimeStatus"], 200)
        if not rpc and row["RuntimeStatus"] in ("Failed", "Terminated"):
            code = 400 if row["RuntimeStatus"] == "Terminated" else 500
        return web.json_response(payload, status=code)

    def status_payload(self, row: dict, show_input: bool = True) -> dict:
        return {
            "name": row["Name"],
            "instanceId": row["PartitionKey"],
            "runtimeStatus": row["RuntimeStatus"],
            "input": _json_or_raw(row.get("Input")) if show_input else None,
            "customStatus": _json_or_raw(row.get("CustomStatus")),
            "output": _json_or_raw(row.get("Output")),
            "createdTime": format_time(as_utc(row["CreatedTime"])),
            "lastUpdatedTime": format_time(as_utc(row["LastUpdatedTime"])),
        }

    async def list_instances(self, request: web.Request):
        clauses, parameters = [], {}
        if "createdTimeFrom" in request.query:
            clauses.append("CreatedTime ge @from")
            parameters["from"] = as_utc(request.query["createdTimeFrom"])
        if "createdTimeTo" in request.query:
            clauses.append("CreatedTime le @to")
            parameters["to"] = as_utc(request.query["createdTimeTo"])
        statuses = [s for s in request.query.get("runtimeStatus", "").split(",") if s]
        rows = await self.hub.query_instances(" and ".join(clauses) or None, parameters)
        prefix = request.query.get("instanceIdPrefix", "")
        rows = [r for r in rows if (not statuses or r["RuntimeStatus"] in statuses)
                and r["PartitionKey"].startswith(prefix)]
        rows.sort(key=lambda r: as_utc(r["CreatedTime"]))
        show_input = _flag(request, "showInput")
        top = int(request.query.get("top", 0) or 0)
        skip = int(request.headers.get("x-ms-continuation-token", "0") or 0)
        page = rows[skip: skip + top] if top else rows[skip:]
        headers = {}
        if top and skip + top < len(rows):
            headers["x-ms-continuation-token"] = str(skip + top)
        return web.json_response([self.status_payload(r, show_input) for r in page], headers=headers)

    # -- commands -----------------------------------------------------------------------------------
    async def raise_event(self, request: web.Request, instance_id: str, event_name: str, rpc: bool):
        row = await self.hub.get_instance(instance_id)
        if row is None:
            return web.Response(status=404)
        if row["RuntimeStatus"] in TERMINAL_STATUSES:
            return web.Response(status=410)
        body = await request.text()
        data = body or None
        if rpc and body:
            decoded = json.loads(body)
            data = decoded if isinstance(decoded, str) else json.dumps(decoded)
        raised = event(EventType.EventRaised, utc_now(), Name=event_name, Input=data)
        await self.hub.send_control(instance_id, control_message(row["ExecutionId"], raised))
        self.dispatcher.notify(instance_id)
        return web.Response(status=202)

    async def control(self, request: web.Request, instance_id: str, action: str):
        row = await self.hub.get_instance(instance_id)
        if row is None:
            return web.Response(status=404)
        status = row["RuntimeStatus"]
        reason = request.query.get("reason", "")
        if action == "rewind":
            if status != "Failed":
                return web.Response(status=410)
            request_event = event(EventType.GenericEvent, utc_now(), Rewind=True, Reason=reason)
        elif status in TERMINAL_STATUSES:
            return web.Response(status=410)
        elif action == "terminate":
            request_event = event(EventType.ExecutionTerminated, utc_now(), Input=reason)
        elif action == "suspend":
            request_event = event(EventType.ExecutionSuspended, utc_now(), Reason=reason)
        else:
            request_event = event(EventType.ExecutionResumed, utc_now(), Reason=reason)
        await self.hub.send_control(instance_id, control_message(None, request_event))
        self.dispatcher.notify(instance_id)
        return web.Response(status=202)

    async def restart(self, request: web.Request, instance_id: str):
        row = await self.hub.get_instance(instance_id)
        if row is None:
            return web.Response(status=404)
        new_id = instance_id
        if request.query.get("restartWithNewInstanceId", "true").lower() == "true":
            new_id = uuid.uuid4().hex
        try:
            await self.create_instance(new_id, row["Name"], row.get("Input"))
        except InstanceExists as exists:
            return web.json_response({"ExceptionMessage": str(exists)}, status=409)
        return web.json_response(new_id, status=202)

    async def purge(self, instance_id: str):
        row = await self.hub.get_instance(instance_id)
        if row is None:
            return web.json_response({"instancesDeleted": 0}, status=404)
        await self.hub.delete_instance(instance_id)
        return web.json_response({"instancesDeleted": 1})

    async def purge_many(self, request: web.Request):
        statuses = [s for s in request.query.get("runtimeStatus", "").split(",") if s]
        low = as_utc(request.query.get("createdTimeFrom")) or dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        high = as_utc(request.query.get("createdTimeTo")) or dt.datetime.max.replace(tzinfo=dt.timezone.utc)
        rows = await self.hub.query_instances(None)
        doomed = [r for r in rows if low <= as_utc(r["CreatedTime"]) <= high
                  and (not statuses or r["RuntimeStatus"] in statuses)]
        for row in doomed:
            await self.hub.delete_instance(row["PartitionKey"])
        return web.json_response({"instancesDeleted": len(doomed)}, status=200 if doomed else 404)


class InstanceExists(Exception):
    pass


def history_for_people(history: list[dict], show_output: bool) -> list[dict]:
    """History as the extension shows it: event type names, function names, results on request."""
    shown = []
    scheduled = {e["EventId"]: e for e in history if e["EventType"] in (4, 7)}
    for e in history:
        kind = EventType(e["EventType"])
        if kind in (EventType.OrchestratorStarted, EventType.OrchestratorCompleted):
            continue
        item = {"EventType": kind.name, "Timestamp": e["Timestamp"]}
        if kind in (EventType.TaskScheduled, EventType.SubOrchestrationInstanceCreated, EventType.ExecutionStarted):
            item["FunctionName"] = e.get("Name")
            item["ScheduledId"] = e.get("EventId")
        if kind in (EventType.TaskCompleted, EventType.TaskFailed, EventType.SubOrchestrationInstanceCompleted,
                    EventType.SubOrchestrationInstanceFailed):
            item["TaskScheduledId"] = e.get("TaskScheduledId")
            item["FunctionName"] = scheduled.get(e.get("TaskScheduledId"), {}).get("Name")
        if kind in (EventType.TaskFailed, EventType.SubOrchestrationInstanceFailed, EventType.ExecutionFailed):
            item["Reason"], item["Details"] = e.get("Reason"), e.get("Details")
        if kind == EventType.TimerFired or kind == EventType.TimerCreated:
            item["FireAt"] = e.get("FireAt")
        if kind == EventType.EventRaised:
            item["Name"] = e.get("Name")
        if show_output and "Result" in e:
            item["Result"] = _json_or_raw(e.get("Result"))
        if kind == EventType.ExecutionCompleted:
            item["OrchestrationStatus"] = "Completed"
        shown.append(item)
    return shown
