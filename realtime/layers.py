"""The channel layer of the embedded default: Channels' in-memory layer, safe to send to from any thread.

The in-memory layer keeps each channel's messages in an asyncio queue that belongs to the event
loop waiting on it: the server's, where the process's hub receives (realtime.hub). TaskFlow sends
from other threads: every committed change is published from the publisher thread
(realtime.events.layer_send), and reminders from the worker inside the server process
(operations.embedded). A put from another thread is not safe against the loop's own use of the
queue and its groups, and does not wake that loop either: the message waited for the loop's next
timer or socket event. So a send made on any other loop is handed to the receiving loop and runs
there; the sender still waits for it, as it waits for Redis in a real deployment.
"""

import asyncio

from channels.layers import InMemoryChannelLayer


class InProcessChannelLayer(InMemoryChannelLayer):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._receiving_loop: asyncio.AbstractEventLoop | None = None

    async def receive(self, channel: str) -> dict:
        # The latest loop to receive owns the queues: the server's, or a test's.
        self._receiving_loop = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel: str, message: dict) -> None:
        await self._on_receiving_loop(super().send, channel, message)

    async def group_send(self, group: str, message: dict) -> None:
        await self._on_receiving_loop(super().group_send, group, message)

    async def _on_receiving_loop(self, method, *args) -> None:
        loop = self._receiving_loop
        if loop is None or loop is asyncio.get_running_loop() or loop.is_closed() or not loop.is_running():
            await method(*args)
            return
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(method(*args), loop))
