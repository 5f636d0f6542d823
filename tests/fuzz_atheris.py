"""Coverage-guided fuzzing of the index reader with atheris (optional; Hypothesis covers CI).

    python tests/fuzz_atheris.py -atheris_runs=1000000      # or any libFuzzer flags

Each input is a mutated ``.index`` of the ``tf1_partitioned`` fixture (the real data file sits
next to it).  Reading every tensor and running ``verify_checkpoint`` may raise CheckpointError;
any other exception, or different values without an error, is a crash.  Importing this module
does nothing (pytest's doctest collection imports it).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    import atheris

    sys.path.insert(0, str(HERE))
    from corruptlib import copy_checkpoint, read_everything

    import tfckpt_lab.checkpoint.verify as verify
    from tfckpt_lab.errors import CheckpointError

    atheris.instrument_all()
    work = tempfile.mkdtemp(prefix="tfckpt-atheris-")
    seeds = tempfile.mkdtemp(prefix="tfckpt-atheris-seeds-")
    prefix = copy_checkpoint(HERE / "fixtures" / "tf" / "tf1_partitioned" / "model", work)
    original_index = Path(prefix + ".index").read_bytes()
    original = read_everything(prefix)
    Path(seeds, "index").write_bytes(original_index)

    def one_input(data: bytes) -> None:
        with open(prefix + ".index", "wb") as f:
            f.write(data)
        try:
            got = read_everything(prefix, keys=list(original))
        except CheckpointError:
            got = None
        report = verify.verify_checkpoint(prefix)  # must never raise
        if got is not None and got != original:
            # Only a different, fully valid index may hold other values.
            assert report.ok, f"values changed without an error: {[str(p) for p in report.problems]}"

    args = sys.argv + ([seeds] if all(a.startswith("-") for a in sys.argv[1:]) else [])
    try:
        atheris.Setup(args, one_input)
        atheris.Fuzz()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(seeds, ignore_errors=True)


if __name__ == "__main__":
    main()
