"""Views: pictures and HTML drawn from the region model (matplotlib is imported only when a plot is drawn).

* :mod:`.palette` -- the Okabe-Ito colours, one per region kind
* :mod:`.plots`   -- :func:`~.plots.shard_map`, :func:`~.plots.index_anatomy`, :func:`~.plots.tensor_values`
* :mod:`.hexview` -- :func:`~.hexview.hex_html`: a hex dump with regions highlighted
* :mod:`.diff`    -- :func:`~.diff.diff_checkpoints`: which tensors changed between two checkpoints
"""
