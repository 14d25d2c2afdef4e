"""How a client behaves beyond training: how long work takes, whether it shows up.

The types live in the core (`actors.training`), where gossip peers find them
too; this module keeps their old import path working.
"""

from actors.training import AsFastAsPossible, ClientBehaviour, WorkPlan, take_planned_time

__all__ = ["AsFastAsPossible", "ClientBehaviour", "WorkPlan", "take_planned_time"]
