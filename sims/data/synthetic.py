"""Synthetic(alpha, beta), the heterogeneous benchmark of FedProx.

Li, Sahu, Zaheer, Sanjabi, Talwalkar, Smith, "Federated Optimization in
Heterogeneous Networks", MLSys 2020; generator as in LEAF (Caldas et al.
2018, `data/synthetic`). For user k, with D features and C classes:

    u_k ~ N(0, alpha)    W_k ~ N(u_k, 1) of shape (C, D)    b_k ~ N(u_k, 1) of shape (C,)
    B_k ~ N(0, beta)     v_k ~ N(B_k, 1) of shape (D,)
    x ~ N(v_k, Sigma)    Sigma diagonal, Sigma_jj = j**-1.2 for j = 1..D
    y = argmax(softmax(W_k x + b_k))

alpha and beta are standard deviations, as in the reference code
(`np.random.normal(0, alpha)`). With `iid = true` every user shares one
W, b ~ N(0, 1) and v_k = 0 (FedProx's synthetic_iid).

User k holds `n_k = min(floor(LogNormal(3, 2)) + min_samples, max_samples)`
samples (LEAF's `get_num_samples`, lognormal mean 3 and sigma 2 of the
underlying normal); the last `floor(test_fraction * n_k)` of them go to the
shared test set, the rest are the user's training data.
"""

from __future__ import annotations

import numpy as np

from sims.data import LoadedData
from topologies.specs.data import SyntheticDataSpec

# LEAF data/synthetic/main.py: np.random.lognormal(3, 2, num_tasks).
_SIZE_LOG_MEAN = 3.0
_SIZE_LOG_SIGMA = 2.0
_COVARIANCE_DECAY = 1.2


def sample_counts(spec: SyntheticDataSpec, rng: np.random.Generator) -> np.ndarray:
    """Each user's sample count, heavy-tailed as in LEAF."""
    draw = rng.lognormal(_SIZE_LOG_MEAN, _SIZE_LOG_SIGMA, size=spec.num_users)
    counts = np.minimum(np.floor(draw) + spec.min_samples, spec.max_samples)
    as_ints: np.ndarray = counts.astype(np.int64)
    return as_ints


def generate_users(spec: SyntheticDataSpec, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every user's (x float32 (n_k, D), y int64 (n_k,)), drawn from rng only."""
    counts = sample_counts(spec, rng)
    shared = _labelling_model(spec, rng, mean=0.0) if spec.iid else None
    return [_generate_user(spec, rng, int(n), shared) for n in counts]


def load_synthetic(spec: SyntheticDataSpec, rng: np.random.Generator) -> LoadedData:
    """Generate the users and split each into its training part and the shared test set."""
    users = generate_users(spec, rng)
    train_parts, test_parts, user_indices = [], [], []
    start = 0
    for x, y in users:
        n_train = len(y) - int(spec.test_fraction * len(y))
        train_parts.append((x[:n_train], y[:n_train]))
        test_parts.append((x[n_train:], y[n_train:]))
        user_indices.append(np.arange(start, start + n_train))
        start += n_train
    return LoadedData(
        train_x=np.concatenate([x for x, _ in train_parts]),
        train_y=np.concatenate([y for _, y in train_parts]),
        test_x=np.concatenate([x for x, _ in test_parts]),
        test_y=np.concatenate([y for _, y in test_parts]),
        num_classes=spec.num_classes,
        users=tuple(user_indices),
    )


def feature_variances(num_features: int) -> np.ndarray:
    """The diagonal of Sigma: j**-1.2 for j = 1..num_features."""
    return np.arange(1, num_features + 1, dtype=np.float64) ** -_COVARIANCE_DECAY


def _labelling_model(
    spec: SyntheticDataSpec, rng: np.random.Generator, mean: float
) -> tuple[np.ndarray, np.ndarray]:
    weights = rng.normal(mean, 1.0, size=(spec.num_classes, spec.num_features))
    bias = rng.normal(mean, 1.0, size=spec.num_classes)
    return weights, bias


def _generate_user(
    spec: SyntheticDataSpec,
    rng: np.random.Generator,
    num_samples: int,
    shared: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray]:
    if shared is None:
        u = rng.normal(0.0, spec.alpha)
        big_b = rng.normal(0.0, spec.beta)
        weights, bias = _labelling_model(spec, rng, mean=u)
        v = rng.normal(big_b, 1.0, size=spec.num_features)
    else:
        weights, bias = shared
        v = np.zeros(spec.num_features)
    noise = rng.standard_normal((num_samples, spec.num_features))
    x = v + noise * np.sqrt(feature_variances(spec.num_features))
    # softmax is monotonic, so the argmax of the logits is the argmax of softmax.
    y = np.argmax(x @ weights.T + bias, axis=1)
    return x.astype(np.float32), y.astype(np.int64)
