"""Queue triggers: poll with back-off, retry by visibility, poison queue after the maximum dequeue count."""
from __future__ import annotations

import asyncio
import base64
import binascii
import logging

from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage
from azure.storage.queue.aio import QueueClient

from ..app_loader import FunctionSpec
from ..invoker import InvocationFailed
from ..storage import receive_page
from .common import close_quietly, connection_string_for, extra_arguments, resolve_setting_references

log = logging.getLogger("devhost.queue")
BATCH = 16
VISIBILITY_SECONDS = 600
POLL_SECONDS = (0.1, 2.0)


def decode_body(content: str) -> bytes:
    """Functions expects base64 messages by default; plain text is accepted too, as a convenience."""
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        return content.encode()


class QueueListener:
    def __init__(self, host, spec: FunctionSpec, client_binding_json: str):
        self.host = host
        self.spec = spec
        self.client_binding_json = client_binding_json
        self.queue_name = resolve_setting_references(spec.trigger["queueName"]).lower()
        conn = connection_string_for(spec.trigger, host.connection_string)
        self.queue = QueueClient.from_connection_string(conn, self.queue_name)
        self.poison = QueueClient.from_connection_string(conn, f"{self.queue_name}-poison")
        self.max_dequeue = host.settings.queue_max_dequeue_count
        self.retry_delay = int(host.settings.queue_visibility_timeout_seconds)

    async def close(self) -> None:
        await close_quietly(self.queue, self.poison)

    async def run(self) -> None:
        for queue in (self.queue, self.poison):
            try:
                await queue.create_queue()
            except ResourceExistsError:
                pass
        delay = POLL_SECONDS[0]
        while not self.host.stopping.is_set():
            try:
                messages = await receive_page(self.queue, BATCH, VISIBILITY_SECONDS)
            except Exception:
                log.exception("queue trigger %s: polling failed", self.spec.name)
                messages = []
            if not messages:
                await asyncio.sleep(delay)
                delay = min(delay * 2, POLL_SECONDS[1])
                continue
            delay = POLL_SECONDS[0]
            await asyncio.gather(*(self.handle_safely(m) for m in messages))

    async def handle_safely(self, message) -> None:
        """A storage error on one message must not end the listener: the message becomes visible again."""
        try:
            await self.handle(message)
        except Exception:
            log.exception("queue trigger %s: message %s could not be settled", self.spec.name, message.id)

    async def handle(self, message) -> None:
        if message.dequeue_count > self.max_dequeue:
            # Tried often enough already (its host died mid-invocation): poison it without another try.
            await self.to_poison(message)
            return
        body = decode_body(message.content)
        argument = QueueMessage(  # the worker's concrete class: func.QueueMessage has no dequeue_count
            id=message.id, body=body, dequeue_count=message.dequeue_count,
            expiration_time=message.expires_on, insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on, pop_receipt=message.pop_receipt,
        )
        arguments = {self.spec.trigger["name"]: argument, **extra_arguments(self.spec, self.client_binding_json)}
        try:
            await self.host.invoker.invoke(self.spec, arguments, reason=f"New queue message detected on "
                                                                        f"'{self.queue_name}'.")
        except InvocationFailed:
            if message.dequeue_count >= self.max_dequeue:
                await self.to_poison(message)
            else:
                await self.queue.update_message(message, visibility_timeout=self.retry_delay)
            return
        await self.queue.delete_message(message)

    async def to_poison(self, message) -> None:
        await self.poison.send_message(message.content)
        await self.queue.delete_message(message)
        log.error("message %s moved to %s-poison after %d tries", message.id, self.queue_name,
                  message.dequeue_count)
