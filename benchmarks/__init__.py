"""Benchmarks: plain scripts that print our figure beside a baseline measured in the same run.

Run one as `python benchmarks/codec.py` (or `python -m benchmarks.codec`);
`--quick` runs it at a tiny size, `--json PATH` also writes the results.
"""
