"""Codec cost: `encode` + `decode` of a ResNet-18 state_dict against one memcpy of its bytes.

The codec hands every tensor to ZeroMQ as its own frame and rebuilds tensors
on the received frames, so it copies no tensor bytes: its cost grows with the
number of tensors, not with their size. Targets: encode + decode of the 1×
state_dict under 1 ms; with every tensor 10× larger, under 1.5× the 1× time.
Decode reads writable copies of the frames made outside the timed region, as
ZeroMQ hands them over. `torch.save` + `torch.load` through a BytesIO is
printed for reference.

    python benchmarks/codec.py [--quick] [--json PATH] [--repeats N]
"""

from __future__ import annotations

import ctypes
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script: find `benchmarks`

from actors.codec import decode, encode
from actors.messages import Envelope, Message, TensorTree, message
from benchmarks.harness import Row, Stat, arg_parser, progress, report, run_main
from benchmarks.resnet18 import StateDict, nbytes, parameters_only, resnet18_state_dict

TARGET_1X_US = 1000.0
TARGET_SCALING = 1.5
SCALE = 10


@message("bench.codec.state")
class State(Message):
    tree: TensorTree


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes and repeats of one run.

    Attributes:
        width: ResNet-18 stem channels (64 is the real network).
        warmup: repeats dropped before measuring.
        repeats: kept repeats of the 1× cases (each is a few ms).
        big_repeats: kept repeats of the 10× and torch.save cases (each moves
            hundreds of MB, so fewer of them hold the median as steady).
    """

    width: int
    warmup: int
    repeats: int
    big_repeats: int


FULL = Plan(width=64, warmup=10, repeats=100, big_repeats=20)
QUICK = Plan(width=8, warmup=1, repeats=3, big_repeats=2)


class Case:
    """One state_dict, with everything the timed region needs prepared beforehand."""

    def __init__(self, sd: StateDict) -> None:
        self.tensors = len(sd)
        self.nbytes = nbytes(sd)
        self.envelope = Envelope("sender", "receiver", State(sd))
        # Writable copies, as ZeroMQ hands received frames over.
        self.received = [bytearray(memoryview(f)) for f in encode(self.envelope)]
        flat = [t.reshape(-1).view(torch.uint8) for t in sd.values()]
        self._src = torch.cat(flat).numpy()  # the same bytes, in one buffer
        self._dst = self._src.copy()

    def label(self, what: str) -> str:
        return f"{what} ({self.tensors} tensors, {self.nbytes / 1e6:,.1f} MB)"

    def time_memcpy(self) -> float:
        start = time.perf_counter()
        ctypes.memmove(self._dst.ctypes.data, self._src.ctypes.data, self._src.nbytes)
        return time.perf_counter() - start

    def time_codec(self) -> tuple[float, float]:
        """Seconds of one `encode` and of one `decode`."""
        start = time.perf_counter()
        encode(self.envelope)
        encoded = time.perf_counter()
        decode(self.received)
        return encoded - start, time.perf_counter() - encoded


@dataclass(frozen=True, slots=True)
class Figures:
    memcpy: Stat
    codec: Stat
    encode: Stat
    decode: Stat


def measure(case: Case, warmup: int, repeats: int, bar: tqdm) -> Figures:
    """A block of codec repeats back to back, then a block of memcpy repeats.

    Back to back, as timeit runs them: the codec's own code and objects stay
    in cache. `measure_cold` shows the cost when a memcpy of the state_dict's
    size has just evicted them.
    """
    enc, dec = [], []
    for _ in range(warmup + repeats):
        e, d = case.time_codec()
        enc.append(e)
        dec.append(d)
        bar.update()
    memcpy = []
    for _ in range(warmup + repeats):
        memcpy.append(case.time_memcpy())
        bar.update()
    kept = slice(warmup, None)
    return Figures(
        memcpy=_us(memcpy[kept]),
        codec=_us([e + d for e, d in zip(enc[kept], dec[kept], strict=True)]),
        encode=_us(enc[kept]),
        decode=_us(dec[kept]),
    )


def measure_cold(case: Case, warmup: int, repeats: int, bar: tqdm) -> Stat:
    """Codec repeats, each right after a memcpy of the state_dict's bytes (only the codec timed).

    This is what a receiving node sees: ZeroMQ has just written that many
    bytes, so little of the codec's working set is still in cache.
    """
    samples = []
    for _ in range(warmup + repeats):
        case.time_memcpy()
        samples.append(sum(case.time_codec()))
        bar.update()
    return _us(samples[warmup:])


def measure_torch_save(sd: StateDict, warmup: int, repeats: int, bar: tqdm) -> Stat:
    samples = []
    for _ in range(warmup + repeats):
        start = time.perf_counter()
        buffer = io.BytesIO()
        torch.save(sd, buffer)
        buffer.seek(0)
        torch.load(buffer, weights_only=True)
        samples.append(time.perf_counter() - start)
        bar.update()
    return _us(samples[warmup:])


def _us(seconds: list[float]) -> Stat:
    return Stat.of([s * 1e6 for s in seconds])


def codec_row(case: Case, what: str, figures: Figures, with_target: bool) -> Row:
    return Row(
        case=case.label(f"encode+decode, {what}"),
        baseline_name=f"memcpy of {case.nbytes / 1e6:,.1f} MB",
        baseline=figures.memcpy,
        ours=figures.codec,
        unit="µs",
        target=f"ours < {TARGET_1X_US:,.0f} µs" if with_target else "",
        met=figures.codec.median < TARGET_1X_US if with_target else None,
        note=f"encode {figures.encode.median:,.0f} + decode {figures.decode.median:,.0f} µs",
    )


def run(plan: Plan) -> tuple[list[Row], dict[str, object]]:
    small, big = plan.warmup + plan.repeats, plan.warmup + plan.big_repeats
    setup_steps = 3
    with progress(setup_steps + 2 * small + small + 2 * small + 2 * big + big, "codec") as bar:
        sd = resnet18_state_dict(width=plan.width)
        one, params = Case(sd), Case(parameters_only(sd))
        bar.update()
        at_1x = measure(one, plan.warmup, plan.repeats, bar)
        cold_1x = measure_cold(one, plan.warmup, plan.repeats, bar)
        params_1x = measure(params, plan.warmup, plan.repeats, bar)
        torch_save = measure_torch_save(sd, plan.warmup, plan.big_repeats, bar)
        bar.update()
        ten = Case(resnet18_state_dict(width=plan.width, scale=SCALE))
        bar.update()
        at_10x = measure(ten, plan.warmup, plan.big_repeats, bar)
    scaling = at_10x.codec.median / at_1x.codec.median
    rows = [
        codec_row(one, "state_dict 1×", at_1x, with_target=True),
        Row(
            case=one.label("encode+decode, state_dict 1×, caches cold"),
            baseline_name=f"memcpy of {one.nbytes / 1e6:,.1f} MB",
            baseline=at_1x.memcpy,
            ours=cold_1x,
            unit="µs",
            note="each repeat right after a memcpy of the state_dict's bytes",
        ),
        codec_row(params, "parameters only 1×", params_1x, with_target=True),
        codec_row(ten, f"state_dict {SCALE}×", at_10x, with_target=False),
        Row(
            case=f"encode+decode at {SCALE}× tensor size vs 1×",
            baseline_name="ours at 1×",
            baseline=at_1x.codec,
            ours=at_10x.codec,
            unit="µs",
            target=f"ours/baseline < {TARGET_SCALING}",
            met=scaling < TARGET_SCALING,
        ),
        Row(
            case=one.label("encode+decode, state_dict 1×"),
            baseline_name="torch.save + torch.load (BytesIO)",
            baseline=torch_save,
            ours=at_1x.codec,
            unit="µs",
        ),
    ]
    settings = {
        "repeats": f"median of {plan.repeats} (1×) / {plan.big_repeats} ({SCALE}×, torch.save)",
        "warmup": plan.warmup,
        "width": plan.width,
    }
    return rows, settings


def main() -> None:
    args = arg_parser(__doc__.splitlines()[0]).parse_args()
    plan = QUICK if args.quick else FULL
    if args.repeats:
        plan = Plan(plan.width, plan.warmup, args.repeats, args.repeats)
    rows, settings = run(plan)
    report("codec", {"mode": "quick" if args.quick else "full", **settings}, rows, args.json)


if __name__ == "__main__":
    run_main(main)
