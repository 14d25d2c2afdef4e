from __future__ import annotations

from pathlib import Path

from launcher.sweep import grid


def test_sweep_folders_are_numbered_and_named_by_their_labels() -> None:
    sets = [
        "server.alpha=0.3,0.6",
        'server={ algorithm = "fedavg", clients_per_round = 20 },{ algorithm = "fedbuff", buffer_size = 5 }',
        "model.hidden=[64],[128, 64]",
    ]

    points = grid(sets, Path("out"))

    assert [p.run_dir.name for p in points[:3]] == [
        "01-alpha=0.3_server=fedavg_hidden=64",
        "02-alpha=0.3_server=fedavg_hidden=128-64",
        "03-alpha=0.3_server=fedbuff_hidden=64",
    ]
    assert points[-1].run_dir.name == "08-alpha=0.6_server=fedbuff_hidden=128-64"
    assert points[1].label == "alpha=0.3,fedavg,hidden=[128, 64]"


def test_a_sweep_without_axes_is_one_base_run() -> None:
    (point,) = grid([], Path("out"))

    assert (point.run_dir, point.label) == (Path("out/01-base"), "base")
