"""Gossip peers: decentralized learners with no server, and the monitor that scores them.

dpsgd      D-PSGD, synchronous rounds, mixing-matrix averaging with neighbours
pairwise   asynchronous push-pull averaging with a random neighbour
"""

from actors.configs.peers import MONITOR, DpsgdConfig, PairwiseConfig
from actors.peer.dpsgd import DpsgdPeer
from actors.peer.monitor import GossipMonitor, consensus_distance
from actors.peer.pairwise import PairwisePeer

__all__ = [
    "MONITOR",
    "DpsgdConfig",
    "DpsgdPeer",
    "GossipMonitor",
    "PairwiseConfig",
    "PairwisePeer",
    "consensus_distance",
]
