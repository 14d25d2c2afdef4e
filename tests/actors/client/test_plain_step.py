"""Plain SGD (no momentum, no weight decay) written out trains as `torch.optim.SGD` does, bit for bit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actors.client.local_sgd import local_train
from actors.configs.client import TrainConfig


def _data() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    x = torch.randn(23, 5)
    y = torch.randint(0, 3, (23,))
    return model, x, y


@pytest.mark.parametrize(("prox_mu", "max_grad_norm"), [(0.0, None), (0.3, 0.5)])
def test_plain_steps_equal_torch_optim_sgd(prox_mu: float, max_grad_norm: float | None) -> None:
    model, x, y = _data()
    reference = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    reference.load_state_dict(model.state_dict())
    anchor = [p.detach().clone() for p in reference.parameters()]
    config = TrainConfig(epochs=2, batch_size=4, lr=0.1, prox_mu=prox_mu, max_grad_norm=max_grad_norm)

    local_train(model, x, y, config, torch.Generator().manual_seed(3))

    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(3)
    for _ in range(2):
        for batch in torch.randperm(23, generator=generator).split(4):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(reference(x[batch]), y[batch]).backward()
            for p, a in zip(reference.parameters(), anchor, strict=True):
                assert p.grad is not None
                p.grad.add_(p.detach() - a, alpha=prox_mu)
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(list(reference.parameters()), max_grad_norm)
            optimizer.step()
    for ours, theirs in zip(model.state_dict().values(), reference.state_dict().values(), strict=True):
        assert torch.equal(ours, theirs)
