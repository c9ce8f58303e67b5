"""The embedded default's channel layer: sends from other threads reach the server's loop at once."""

import asyncio
import threading
import time

from realtime.layers import InProcessChannelLayer


def send_from_a_thread_of_its_own(layer: InProcessChannelLayer, group: str, message: dict) -> threading.Thread:
    """Send as the publisher thread and the embedded worker do: on an event loop of their own."""
    thread = threading.Thread(target=asyncio.run, args=(layer.group_send(group, message),))
    thread.start()
    return thread


async def test_group_send_from_another_thread_wakes_the_waiting_receiver_at_once():
    layer = InProcessChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("project.1", channel)
    receiving = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0)  # the receiver now waits on its queue, on this loop

    started = time.monotonic()
    sender = send_from_a_thread_of_its_own(layer, "project.1", {"type": "project.event", "seq": 1})
    message = await asyncio.wait_for(receiving, timeout=2)
    elapsed = time.monotonic() - started
    await asyncio.to_thread(sender.join)

    assert message == {"type": "project.event", "seq": 1}
    # Channels' own in-memory layer leaves this loop asleep until its next timer (here: 2 s).
    assert elapsed < 0.5, elapsed


async def test_messages_sent_from_threads_arrive_in_the_order_they_were_sent():
    layer = InProcessChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("project.1", channel)
    first = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0)

    def send_all() -> None:
        async def sends() -> None:
            for seq in range(1, 51):
                await layer.group_send("project.1", {"type": "project.event", "seq": seq})

        asyncio.run(sends())

    sender = threading.Thread(target=send_all)
    sender.start()
    received = [await asyncio.wait_for(first, timeout=2)]
    while len(received) < 50:
        received.append(await asyncio.wait_for(layer.receive(channel), timeout=2))
    await asyncio.to_thread(sender.join)
    assert [message["seq"] for message in received] == list(range(1, 51))


async def test_a_send_with_no_receiving_loop_yet_is_kept_for_the_receiver():
    layer = InProcessChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("user.7", channel)
    await asyncio.to_thread(asyncio.run, layer.group_send("user.7", {"type": "user.notification"}))
    assert await asyncio.wait_for(layer.receive(channel), timeout=2) == {"type": "user.notification"}
