"""Protocol buffer messages of the checkpoint format, from our own ``.proto`` files.

The ``.proto`` sources beside these modules were written for tfckpt_lab; they use
TensorFlow's field numbers and names (so the bytes are TensorFlow's) but the
package ``tfckpt_lab``, so they never clash with TensorFlow's own classes when
both are imported.  Regenerate with ``python tools/compile_protos.py``.
"""
