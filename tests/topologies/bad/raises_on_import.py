"""A user module that fails while it is imported (tests/topologies/bad/model_module_raises.toml)."""

raise RuntimeError("this module refuses to be imported")
