"""TF1 graphs stored beside a checkpoint: ``.meta`` files.

A ``.meta`` file holds a ``MetaGraphDef`` -- the graph, its collections and the
``SaverDef`` naming the save/restore subgraph.  :mod:`.writer` writes one that
TensorFlow imports; :mod:`.reader` summarizes any that TensorFlow wrote (named by
file or prefix); :mod:`.tensors` holds graph ``Const`` values.  This layer knows
nothing of checkpoints: the ``Saver`` (which writes a ``.meta``) and
``read_meta_graph`` (which resolves a checkpoint directory) sit above it in
:mod:`tfckpt_lab.checkpoint`, as do TF2 object graphs
(:mod:`tfckpt_lab.checkpoint.object_graph`, :mod:`tfckpt_lab.checkpoint.object_writer`).

See docs/meta_graph.md for the messages, field by field.
"""
