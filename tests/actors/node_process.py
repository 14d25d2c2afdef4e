"""A node process for the multi-process tests: `python -m tests.actors.node_process BIND`.

Hosts an actor `store` that answers a Blob with the same tree. Prints its
endpoint as the first stdout line, serves until SIGTERM, then prints a JSON
report of what is still open (threads, tasks, socket fds).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading

from actors import Actor, Node, NodeConfig, handler
from actors.node import run_process
from actors.transport.zeromq import ZmqTransport
from tests.actors.messages_for_tests import Blob


class Store(Actor):
    @handler
    async def on_blob(self, msg: Blob, sender: str) -> Blob:
        return Blob(f"back:{msg.tag}", msg.tree, note=sender)


def socket_fds() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the fd listing itself closes under us
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


async def main(bind: str) -> dict[str, object]:
    sockets_before = socket_fds()
    threads_before = len(os.listdir("/proc/self/task"))  # torch keeps a thread of its own
    node = Node("store-node", ZmqTransport("store-node", bind), config=NodeConfig(compute="thread"))
    node.spawn(Store(), "store")
    run = asyncio.create_task(node.run(handle_signals=True))
    await node.wait_started()
    print(node.transport.endpoint, flush=True)
    await run
    tasks = [t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    return {
        "tasks": tasks,
        "threads": [t.name for t in threading.enumerate()],
        "os_threads_left": len(os.listdir("/proc/self/task")) - threads_before,
        "socket_fds_left": socket_fds() - sockets_before,
    }


if __name__ == "__main__":
    report = run_process(main(sys.argv[1]))
    print(json.dumps(report), flush=True)
