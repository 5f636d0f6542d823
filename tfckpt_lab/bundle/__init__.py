"""A bundle: one checkpoint's ``.index`` plus its ``.data-*`` shards (TensorFlow's TensorBundle V2).

* :mod:`.naming`       -- file names
* :mod:`.entry`        -- the header and BundleEntryProto as friendly objects
* :mod:`.tensor_bytes` -- how a tensor's values are laid out, and its checksum
* :mod:`.slices`       -- partitioned variables and their slice keys
* :mod:`.writer`       -- :func:`write_bundle` / :class:`BundleWriter`
* :mod:`.swap`         -- putting a bundle at a prefix that already holds one (backup, order, recovery)
* :mod:`.reader`       -- :class:`BundleReader`
"""

from .entry import BundleEntry, BundleHeader
from .reader import BundleReader
from .slices import Extent, TensorSlice, decode_slice_key, encode_slice_key
from .writer import BundleWriter, write_bundle

__all__ = [
    "BundleEntry",
    "BundleHeader",
    "BundleReader",
    "BundleWriter",
    "Extent",
    "TensorSlice",
    "decode_slice_key",
    "encode_slice_key",
    "write_bundle",
]
