"""The stopping rule: when a server declares the run over.

It lives in the core (`actors.training`), where the gossip monitor finds it
too; this module keeps its old import path working.
"""

from actors.training import StopConfig

__all__ = ["StopConfig"]
