"""Listeners for the non-HTTP, non-durable triggers: blob, timer and queue."""
from __future__ import annotations

import asyncio
import logging

from .blob import BlobTriggerListener
from .queue import QueueListener
from .timer import TimerListener

log = logging.getLogger("devhost.triggers")
LISTENERS = {"blobTrigger": BlobTriggerListener, "timerTrigger": TimerListener, "queueTrigger": QueueListener}


async def _run_logged(listener) -> None:
    """A listener that dies says so in the log, instead of its function silently never firing again."""
    try:
        await listener.run()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("the %s listener of function '%s' stopped", listener.spec.trigger_type, listener.spec.name)
        raise
    finally:
        await listener.close()


def start_trigger_listeners(host, client_binding_json: str) -> list[asyncio.Task]:
    tasks = []
    for trigger_type, listener in LISTENERS.items():
        for spec in host.index.by_trigger(trigger_type):
            tasks.append(asyncio.create_task(_run_logged(listener(host, spec, client_binding_json)), name=spec.name))
    return tasks
