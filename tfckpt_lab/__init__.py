"""tfckpt_lab: TensorFlow's checkpoint format, implemented in plain Python so you can watch it work."""

__version__ = "0.1.0"
