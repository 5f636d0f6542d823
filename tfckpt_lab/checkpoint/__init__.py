"""Checkpoints as TensorFlow's Python API sees them: readers, the ``checkpoint`` state file, savers."""
