"""Gossip peers: decentralized learners with no server, and the monitor that scores them.

dpsgd      D-PSGD, synchronous rounds, mixing-matrix averaging with neighbours
pairwise   asynchronous push-pull averaging with a random neighbour
"""

from actors.peer.dpsgd import DpsgdConfig, DpsgdPeer
from actors.peer.monitor import MONITOR, GossipMonitor, consensus_distance
from actors.peer.pairwise import PairwiseConfig, PairwisePeer

__all__ = [
    "MONITOR",
    "DpsgdConfig",
    "DpsgdPeer",
    "GossipMonitor",
    "PairwiseConfig",
    "PairwisePeer",
    "consensus_distance",
]
