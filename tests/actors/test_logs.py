"""Log lines cannot explode or block: strings are cut, drops sampled, writes off the loop."""

from __future__ import annotations

import io
import os
import threading

from actors.logs import MAX_FIELD_CHARS, BackgroundWriter, cap_strings, cut, sampled


def test_a_long_string_is_cut_to_the_limit_with_its_length() -> None:
    event = {"event": "message_dropped", "receiver": "x" * 70_000, "count": 3, "kind": "fl.leave"}

    capped = cap_strings(None, "warning", event)

    assert capped["receiver"] == "x" * MAX_FIELD_CHARS + "...(70000 chars)"
    assert capped["kind"] == "fl.leave"
    assert capped["count"] == 3
    assert cut("short") == "short"


def test_sampling_logs_the_first_ten_then_every_power_of_two() -> None:
    logged = [n for n in range(1, 10_001) if sampled(n)]

    assert logged == [*range(1, 11), 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]


def test_a_writer_whose_pipe_nobody_reads_never_blocks_the_caller_and_counts_what_it_dropped() -> None:
    read_end, write_end = os.pipe()
    pipe = os.fdopen(write_end, "w", buffering=1)
    writer = BackgroundWriter(pipe, capacity=100)

    # The pipe holds ~64 KiB; 5,000 lines of 1 KiB fill it and the queue many times over.
    for i in range(5_000):
        writer.write(f"{i:05d}".ljust(1024, ".") + "\n")  # returns at once: the caller never waits

    dropped = writer.dropped
    reader = threading.Thread(target=drain, args=(read_end,))
    reader.start()
    assert writer.wait_empty(timeout_s=30)  # once read, the writer catches up
    pipe.close()
    reader.join(timeout=30)

    assert dropped >= 5_000 - 100 - 80  # at most the queue's and the pipe's worth got through


def drain(fd: int) -> None:
    while os.read(fd, 1 << 16):
        pass
    os.close(fd)


def test_the_writer_reports_lost_lines_once_it_can_write_again() -> None:
    out = io.StringIO()
    writer = BackgroundWriter(out, capacity=1)
    writer.dropped = 7  # as if seven lines had found the queue full

    writer.write("next line\n")
    assert writer.wait_empty(timeout_s=30)

    assert out.getvalue() == "log_lines_dropped count=7 total=7 (stderr not drained)\nnext line\n"
