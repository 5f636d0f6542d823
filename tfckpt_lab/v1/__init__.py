"""V1 checkpoints: TensorFlow's older single-table "tensor slice" format (read only).

Written by ``tf.compat.v1.train.Saver(write_version=tf.compat.v1.train.SaverDef.V1)``
(and the ``Save``/``SaveSlices`` ops).  TensorFlow 2.21 still writes it, with a
deprecation warning.  This package sits beside :mod:`tfckpt_lab.bundle`, on top of
:mod:`tfckpt_lab.sstable`:

* :mod:`.values` -- how one slice's elements are stored (a TensorProto typed field)
* :mod:`.reader` -- finding the files, the metadata, assembling tensors from slices
"""

from .reader import V1Entry, V1Reader, is_v1_checkpoint, v1_files
from .values import decode_slice_values

__all__ = ["V1Entry", "V1Reader", "is_v1_checkpoint", "v1_files", "decode_slice_values"]
