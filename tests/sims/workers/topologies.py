"""Small runs of the five algorithm families, with stragglers so many tasks are in flight."""

from __future__ import annotations

_COMMON = """
name = "{name}"
seed = 7
mode = "sim"
[client]
epochs = 1
batch_size = 16
lr = 0.05
[model]
kind = "logreg"
[data]
kind = "digits"
partition = {{ kind = "dirichlet", alpha = 0.5 }}
[behaviour.compute]
time = {{ kind = "lognormal", median_s = 2.0, sigma = 1.0 }}
slow_fraction = 0.2
slow_factor = 5
"""

FEDASYNC = (
    _COMMON.format(name="fedasync")
    + """
[graph]
template = "star"
clients = 10
[server]
algorithm = "fedasync"
alpha = 0.5
concurrency = 6
staleness = { kind = "polynomial", a = 0.5 }
task_timeout_s = 30
eval_every = 10
[behaviour.availability]
drop_probability = 0.2
[stop]
max_versions = 40
"""
)

FEDBUFF = (
    _COMMON.format(name="fedbuff")
    + """
[graph]
template = "star"
clients = 10
[server]
algorithm = "fedbuff"
buffer_size = 3
concurrency = 6
eval_every = 4
[stop]
max_versions = 12
"""
)

HIERFAVG = (
    _COMMON.format(name="hierfavg")
    + """
[graph]
template = "hierarchy"
levels = [1, 2, 8]
[server]
algorithm = "fedavg"
min_clients = 2
eval_every = 1
[scheduler]
mode = "hierfavg"
kappa1 = 2
kappa2 = 2
[stop]
max_rounds = 3
"""
)

ASYNC_EDGES = (
    _COMMON.format(name="async-edges")
    + """
[graph]
template = "hierarchy"
levels = [1, 2, 8]
[server]
algorithm = "fedasync"
alpha = 0.5
eval_every = 4
[scheduler]
mode = "async"
push_every = 2
[scheduler.edge]
algorithm = "fedbuff"
buffer_size = 2
concurrency = 4
[stop]
max_versions = 12
"""
)

DPSGD = (
    _COMMON.format(name="dpsgd").replace("epochs = 1", "steps = 3")
    + """
[graph]
template = "ring"
peers = 6
mixing = { kind = "metropolis_hastings" }
[peer]
algorithm = "dpsgd"
report_every = 2
[stop]
max_rounds = 6
"""
)

ALL = {
    "fedasync": FEDASYNC,
    "fedbuff": FEDBUFF,
    "hierfavg": HIERFAVG,
    "async_edges": ASYNC_EDGES,
    "dpsgd": DPSGD,
}
