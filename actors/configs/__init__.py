"""Every role's settings, as the topology file declares them: pydantic models, data only.

They live apart from the roles so that the topology schema, and with it
`fedactors validate`, imports neither torch nor the actor runtime (torch's
import alone is ~2 s). The roles import their config from here.
"""
