"""The sorted string table (SSTable) that a checkpoint's ``.index`` file is.

TensorFlow's ``.index`` is a LevelDB table written with TensorFlow's own copy of
LevelDB's table code: uncompressed data blocks of prefix-compressed keys, an
empty metaindex block, an index block and a 48-byte footer.  This package has
one module per concept, as LevelDB does:

* :mod:`.format`  -- block handles, the footer, block trailers, reading a block
* :mod:`.block`   -- building and parsing one block
* :mod:`.builder` -- writing a whole table
* :mod:`.reader`  -- opening a table, point lookups and ordered iteration
"""

from .block import Block, BlockBuilder, BlockEntry
from .builder import TableBuilder, find_shortest_separator, find_short_successor
from .format import BlockHandle, Footer
from .reader import TableReader

__all__ = [
    "Block",
    "BlockBuilder",
    "BlockEntry",
    "BlockHandle",
    "Footer",
    "TableBuilder",
    "TableReader",
    "find_shortest_separator",
    "find_short_successor",
]
