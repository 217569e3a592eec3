"""Building a deployment's environment as durable work, off the HTTP request: one activity runs the build
(uv, minutes at most) and records its state and log; deployments and jobs read that record."""
from __future__ import annotations

import azure.durable_functions as df

from registry.environment_builds import build
from registry.environment_specs import ResolvedEnvironment
from registry.service import current_registry

bp = df.Blueprint()
ORCHESTRATOR = "build_environment"


@bp.orchestration_trigger(context_name="context")
def build_environment(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("run_environment_build", context.get_input()))


@bp.activity_trigger(input_name="key")
def run_environment_build(key: str) -> dict:
    builds = current_registry().builds
    result = build(ResolvedEnvironment.from_json(builds.get(key).body["spec"]))
    return {"key": key, "state": builds.finish(key, result).body["state"]}
