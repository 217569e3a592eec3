"""Starting the build of a deployment's environment after the deployment is stored: at most one build per
spec, as its own orchestration, so the HTTP answer never waits for it."""
from __future__ import annotations

import logging

import azure.durable_functions as df

from registry.environment_builds import BuildResult
from registry.environment_specs import ResolvedEnvironment
from registry.service import Registry

log = logging.getLogger("batch_endpoints.environments")
ORCHESTRATOR = "build_environment"


async def ensure_build(client: df.DurableOrchestrationClient, registry: Registry, deployment: dict) -> None:
    spec = deployment["environment_spec"]
    if spec is None:
        return
    resolved = ResolvedEnvironment.from_json(spec)
    if not registry.builds.request(resolved):
        return  # built, or building, already
    try:
        await client.start_new(ORCHESTRATOR, client_input=resolved.key)
    except Exception as error:  # the deployment must not stay Creating forever
        log.exception("the build of environment %s could not start", resolved.key)
        registry.builds.finish(resolved.key, BuildResult(False, f"The build could not start: {error}", None))
