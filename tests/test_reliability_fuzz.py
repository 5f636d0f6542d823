"""Fuzz real checkpoints: flips, truncations, splices, insertions and deletions, combined.

Hypothesis picks a fixture, a file and a list of edits.  Reading every tensor of the damaged
copy must raise a CheckpointError or return exactly the original values (never another
exception, never different values, never a hang), and ``verify_checkpoint`` must not raise and
must report a problem whenever the bytes changed.

Bounded for CI by the ``reliability`` profile (``TFCKPT_FUZZ_EXAMPLES`` raises the count, e.g.
100000 for an overnight run).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from conftest import TF_FIXTURES
from corruptlib import copy_checkpoint, damaged, read_everything, try_read
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfckpt_lab.checkpoint.verify import verify_checkpoint

settings.register_profile(
    "reliability",
    max_examples=int(os.environ.get("TFCKPT_FUZZ_EXAMPLES", "2000")),
    deadline=None,
    derandomize=not os.environ.get("TFCKPT_FUZZ_RANDOM"),  # reproducible in CI unless asked otherwise
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

FIXTURES = [
    ("tf1_partitioned", "model"),
    ("tf1_sharded", "model-5"),
    ("savev2_dtypes", "bundle"),
    ("savev2_unicode_name", "bundle"),
    ("savev2_ff_keys", "bundle"),
    ("tf2_checkpoint", "ckpt-3"),
    ("keras_adam", "ckpt"),
]

_WORKDIR = tempfile.mkdtemp(prefix="tfckpt-fuzz-")
_CACHE: dict[str, tuple[str, list[str], dict, dict[str, bytes]]] = {}


def _prepared(case: str, stem: str):
    """One private copy of each fixture (damaged in place and restored by each example)."""
    if case not in _CACHE:
        prefix = copy_checkpoint(TF_FIXTURES / case / stem, os.path.join(_WORKDIR, case))
        d, base = os.path.split(prefix)
        files = [prefix + ".index"] + sorted(os.path.join(d, n) for n in os.listdir(d)
                                             if n.startswith(base + ".data-"))
        _CACHE[case] = (prefix, files, read_everything(prefix), {f: Path(f).read_bytes() for f in files})
    return _CACHE[case]


edit = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("splice"), st.integers(0, 10**6), st.integers(0, 10**6)),   # copy 1-64 bytes within
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 64)),
    st.tuples(st.just("set"), st.integers(0, 10**6), st.sampled_from([0x00, 0x7F, 0x80, 0xFF])),
)


def apply_edits(data: bytes, edits, other: bytes) -> bytes:
    b = bytearray(data)
    for op, a, x in edits:
        if not b:
            break
        pos = a % len(b)
        if op == "flip":
            b[pos] ^= x
        elif op == "truncate":
            del b[pos:]
        elif op == "splice":  # overwrite with bytes from elsewhere in this file or its sibling
            src = other if x % 2 else bytes(b)
            if src:
                n = 1 + x % 64
                s = (x // 2) % len(src)
                chunk = src[s:s + n]
                b[pos:pos + len(chunk)] = chunk
        elif op == "insert":
            b[pos:pos] = bytes((x,))
        elif op == "delete":
            del b[pos:pos + x]
        elif op == "set":
            b[pos] = x
    return bytes(b)


@settings(settings.get_profile("reliability"))
@given(which=st.sampled_from(FIXTURES), file_choice=st.integers(0, 7),
       edits=st.lists(edit, min_size=1, max_size=4))
@pytest.mark.slow
def test_fuzzed_checkpoints_raise_checkpoint_error_or_read_the_same(which, file_choice, edits):
    prefix, files, original, originals = _prepared(*which)
    f = files[file_choice % len(files)]
    other = originals[files[(file_choice + 1) % len(files)]]
    new = apply_edits(originals[f], edits, other)
    with damaged(f, new, originals[f]):
        outcome = try_read(prefix, original)
        assert outcome.kind in ("caught", "unchanged"), (outcome.kind, outcome.detail, edits)
        report = verify_checkpoint(prefix)  # must not raise
        if new != originals[f]:
            assert not report.ok, f"verify_checkpoint missed {edits} on {os.path.basename(f)}"
