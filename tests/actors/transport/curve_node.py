"""A CURVE node process for the transport tests: `python -m tests.actors.transport.curve_node DIR NAME`.

Serves on an ephemeral loopback port with the key pair `DIR/NAME.key_secret`,
admitting the clients whose public keys are `DIR/*.key`. Hosts an actor
`store` that answers a Blob with the same tree; prints its endpoint as the
first stdout line and serves until SIGTERM.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from actors import Node, NodeConfig
from actors.node import run_process
from actors.transport.curve import CurveConfig, key_paths, read_allowed_keys, read_key_pair
from actors.transport.zeromq import ZmqConfig, ZmqTransport
from tests.actors.node_process import Store


async def main(keys_dir: Path, name: str) -> None:
    public, secret = read_key_pair(key_paths(keys_dir, name)[1])
    keys = CurveConfig(public, secret, read_allowed_keys(keys_dir))
    transport = ZmqTransport("store-node", "tcp://127.0.0.1:*", ZmqConfig(curve=keys))
    node = Node("store-node", transport, config=NodeConfig(compute="thread"))
    node.spawn(Store(), "store")
    run = asyncio.create_task(node.run(handle_signals=True))
    await node.wait_started()
    print(node.transport.endpoint, flush=True)
    await run


if __name__ == "__main__":
    run_process(main(Path(sys.argv[1]), sys.argv[2]))
