"""File names of a bundle: ``PREFIX.index`` and ``PREFIX.data-SSSSS-of-NNNNN``."""

from __future__ import annotations

import os
import re

__all__ = ["index_path", "data_path", "data_paths", "DATA_SUFFIX_RE", "TEMP_MARKER"]

DATA_SUFFIX_RE = re.compile(r"\.data-(\d{5,})-of-(\d{5,})$")
TEMP_MARKER = ".tempstate"  # TensorFlow writes PATH.tempstateNNNN and renames it to PATH


def _s(prefix) -> str:
    return os.fspath(prefix)


def index_path(prefix) -> str:
    return _s(prefix) + ".index"


def data_path(prefix, shard: int, num_shards: int) -> str:
    return f"{_s(prefix)}.data-{shard:05d}-of-{num_shards:05d}"


def data_paths(prefix, num_shards: int) -> list[str]:
    return [data_path(prefix, i, num_shards) for i in range(num_shards)]
