"""Old attribute names kept working for a while, with a ``DeprecationWarning`` that names the new one."""

from __future__ import annotations

import warnings

__all__ = ["renamed"]


def renamed(old: str, new: str) -> property:
    """A read-only property ``old`` that warns and returns ``self.<new>``.

    >>> class Entry:
    ...     lowlevel = "the record"
    ...     proto = renamed("proto", "lowlevel")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     value = Entry().proto
    >>> value, str(caught[0].message)
    ('the record', 'Entry.proto is deprecated: use Entry.lowlevel')
    """

    def get(self):
        cls = type(self).__name__
        warnings.warn(f"{cls}.{old} is deprecated: use {cls}.{new}", DeprecationWarning, stacklevel=2)
        return getattr(self, new)

    return property(get, doc=f"Deprecated: the old name of ``{new}``.")
