"""Colours: the Okabe-Ito palette (safe for the common kinds of colour blindness), one per region kind."""

from __future__ import annotations

__all__ = ["OKABE_ITO", "GREY", "kind_color", "dtype_color"]

OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}
GREY = "#BBBBBB"
_CYCLE = [OKABE_ITO[k] for k in ("blue", "orange", "bluish_green", "reddish_purple", "sky_blue",
                                 "vermillion", "yellow")]

_KIND = {
    # sstable structure
    "data_block": OKABE_ITO["sky_blue"],
    "metaindex_block": OKABE_ITO["yellow"],
    "index_block": OKABE_ITO["bluish_green"],
    "footer": OKABE_ITO["reddish_purple"],
    "block_trailer": OKABE_ITO["vermillion"],
    "restart_array": OKABE_ITO["yellow"],
    "magic": OKABE_ITO["reddish_purple"],
    "padding": GREY,
    # entries and fields
    "varint": OKABE_ITO["orange"],
    "key_delta": OKABE_ITO["sky_blue"],
    "tag": OKABE_ITO["yellow"],
    "length": OKABE_ITO["orange"],
    "fixed32": OKABE_ITO["bluish_green"],
    "fixed64": OKABE_ITO["bluish_green"],
    "checksum": OKABE_ITO["vermillion"],
    "u8": OKABE_ITO["reddish_purple"],
    "string": OKABE_ITO["sky_blue"],
    "bytes": "#DDDDDD",
    "packed": OKABE_ITO["orange"],
    # data shards
    "tensor": OKABE_ITO["blue"],
    "element": OKABE_ITO["sky_blue"],
    "string_bytes": OKABE_ITO["sky_blue"],
    "unreferenced": GREY,
    "unexplained": GREY,
    "unparsed": GREY,
    "state_line": OKABE_ITO["bluish_green"],
}


def kind_color(kind: str) -> str:
    """The colour used for regions of this kind everywhere (plots, hex view, tables)."""
    return _KIND.get(kind, GREY)


def dtype_color(dtype_name: str, order: list[str] | None = None) -> str:
    """A stable colour per dtype (the position in ``order`` if given, else a hash)."""
    if order is not None and dtype_name in order:
        return _CYCLE[order.index(dtype_name) % len(_CYCLE)]
    return _CYCLE[sum(map(ord, dtype_name)) % len(_CYCLE)]
