"""Tensor bytes of the logreg model on digits (a 10 x 64 weight and 10 biases, 650 float32 values),
dense and as each compression scheme sends it (docs/topology.md's formulas, a tensor at a time)."""

DENSE = 4 * (640 + 10)
FP16 = 2 * (640 + 10)
QSGD8 = (640 + 4 * 2) + (10 + 4)  # a byte a value, and a 4-byte norm per 512-value bucket
QSGD4 = (320 + 4 * 2) + (5 + 4)  # half a byte a value
TOPK10 = 8 * (64 + 1)  # k = ⌈0.1 n⌉ int32 indices and float32 values
