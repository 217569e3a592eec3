"""Listeners for the non-HTTP, non-durable triggers: blob, timer and queue."""
from __future__ import annotations

import asyncio

from .blob import BlobTriggerListener
from .queue import QueueListener
from .timer import TimerListener

LISTENERS = {"blobTrigger": BlobTriggerListener, "timerTrigger": TimerListener, "queueTrigger": QueueListener}


def start_trigger_listeners(host, client_binding_json: str) -> list[asyncio.Task]:
    tasks = []
    for trigger_type, listener in LISTENERS.items():
        for spec in host.index.by_trigger(trigger_type):
            tasks.append(asyncio.create_task(listener(host, spec, client_binding_json).run(), name=spec.name))
    return tasks
