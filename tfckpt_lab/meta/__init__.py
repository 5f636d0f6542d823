"""Graphs stored beside or inside a checkpoint.

* ``.meta`` files (TF1): a ``MetaGraphDef`` -- the graph, its collections and the
  ``SaverDef`` naming the save/restore subgraph.  :mod:`.writer` writes one that
  TensorFlow imports; :mod:`.reader` summarizes any that TensorFlow wrote.
* The TF2 object graph: a ``TrackableObjectGraph`` stored in the checkpoint itself
  under ``_CHECKPOINTABLE_OBJECT_GRAPH``.  :mod:`.object_graph` reads it;
  :mod:`.object_writer` writes checkpoints that ``tf.train.Checkpoint`` restores.

See docs/meta_graph.md for the messages, field by field.
"""
