"""Write a TF2 object-based checkpoint (what ``tf.train.Checkpoint.write`` produces) from nested mappings.

    tree                                   checkpoint
    {"model": {                            _CHECKPOINTABLE_OBJECT_GRAPH  (TrackableObjectGraph)
        "dense": {"kernel": k,             model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE = k
                  "bias": b}},             model/dense/bias/.ATTRIBUTES/VARIABLE_VALUE   = b
     "step": s}                            step/.ATTRIBUTES/VARIABLE_VALUE               = s

Every mapping becomes an object node whose children are its keys (local names);
every other value becomes a variable node with one attribute, ``VARIABLE_VALUE``.
The graph is the one ``tf.train.Checkpoint(**tree)`` writes for the same structure
(nested dicts, each leaf a ``tf.Variable`` named after its key), byte for byte:

* the root's children are sorted by name -- ``Checkpoint.__init__`` attaches its
  keyword arguments in ``sorted()`` order -- and the ``save_counter`` that
  ``Checkpoint.save`` creates later comes after them;
* a nested mapping keeps its own order (TensorFlow wraps a dict and lists its
  items in insertion order), as does a ``tf.Module``'s attributes;
* node ids are given breadth first from the root, in that child order;
* tensors go to the data file in node-id order, the object graph itself last.

Local names are escaped in keys (see :mod:`tfckpt_lab.checkpoint.object_graph`).

In TensorFlow the same structure restores into any objects with those attribute
names -- ``tf.Module``\\ s, Keras layers, dicts -- e.g.::

    ckpt = tf.train.Checkpoint(model=module_with_dense_kernel_and_bias, step=tf.Variable(0))
    ckpt.restore(prefix).assert_consumed()
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Mapping

import numpy as np

from ..bundle.writer import write_bundle
from ..dtypes import as_tensor
from ..protos import trackable_object_graph_pb2
from .object_graph import ATTRIBUTES, OBJECT_GRAPH_KEY, VARIABLE_VALUE, escape_local_name

__all__ = ["write_object_checkpoint", "build_object_graph", "SAVE_COUNTER"]

SAVE_COUNTER = "save_counter"

_TOG = trackable_object_graph_pb2.TrackableObjectGraph


def _root_children(tree: Mapping, save_counter) -> dict:
    """The root's children in TensorFlow's order: sorted by name, then the save counter."""
    for name in tree:
        if not isinstance(name, str):
            raise ValueError(f"local names must be non-empty strings, got {name!r} under '(root)'")
    children = {name: tree[name] for name in sorted(tree)}
    if save_counter is not None and SAVE_COUNTER not in children:
        children[SAVE_COUNTER] = np.int64(save_counter)
    return children


def build_object_graph(tree: Mapping, save_counter: int | None = None) -> tuple[_TOG, dict[str, np.ndarray]]:
    """The TrackableObjectGraph for ``tree`` and the tensors to store (checkpoint key -> array).

    The tensors come in the order TensorFlow writes them (node ids).  ``save_counter``
    (an int) adds the root's ``save_counter`` variable after the root's other children,
    where ``Checkpoint.save`` puts it.
    """
    if not isinstance(tree, Mapping):
        raise TypeError(f"the root of an object checkpoint must be a mapping, not {type(tree).__name__}")
    tree = _root_children(tree, save_counter)
    proto = _TOG()
    tensors: dict[str, np.ndarray] = {}
    # breadth first: (object, escaped path, local name); ids are positions in this order
    queue = deque([(tree, "", "")])
    proto.nodes.add()
    node_id = 0
    has_values: list[bool] = []
    seen = {id(tree)}
    parents: list[int] = []
    while queue:
        obj, path, local = queue.popleft()
        node = proto.nodes[node_id]
        if isinstance(obj, Mapping):
            for name, child in obj.items():
                if not isinstance(name, str) or not name:
                    raise ValueError(f"local names must be non-empty strings, got {name!r} under {path or '(root)'!r}")
                if isinstance(child, Mapping):
                    if id(child) in seen:
                        raise ValueError(f"{name!r} under {path or '(root)'!r}: the same mapping appears "
                                         "twice (shared objects and cycles are not supported)")
                    seen.add(id(child))
                child_id = len(proto.nodes)
                proto.nodes.add()
                parents.append(node_id)
                node.children.add(node_id=child_id, local_name=name)
                escaped = escape_local_name(name)
                queue.append((child, f"{path}/{escaped}" if path else escaped, name))
            has_values.append(False)
        else:
            key = f"{path}/{ATTRIBUTES}/{VARIABLE_VALUE}"
            tensors[key] = as_tensor(obj)
            node.attributes.add(name=VARIABLE_VALUE, full_name=local, checkpoint_key=key)
            has_values.append(True)
        node_id += 1
    # a node has checkpoint values if it or any descendant does (children come after parents)
    for child in range(len(proto.nodes) - 1, 0, -1):
        if has_values[child]:
            has_values[parents[child - 1]] = True
    for i, node in enumerate(proto.nodes):
        node.has_checkpoint_values.value = has_values[i]
    return proto, tensors


def write_object_checkpoint(prefix, tree: Mapping, save_counter: int | None = 1, *, num_shards: int = 1,
                            shard_of=None, durable: bool = False) -> str:
    """Write ``tree`` (nested mappings of arrays) as a TF2 object-based checkpoint at ``prefix``.

    Args:
        prefix: the checkpoint prefix (``dir/ckpt-1``).
        tree: nested mappings; leaves are numpy arrays or array-likes
            (a list of numbers is one array leaf, not a list of objects).
        save_counter: the value of the root's ``save_counter`` variable (int64),
            which ``tf.train.Checkpoint.save`` stores.  Keep it: ``Checkpoint.restore``
            creates that variable, so ``assert_consumed()`` fails when the checkpoint
            lacks it.  ``None`` leaves it out; a ``"save_counter"`` entry of the tree
            wins.  This argument makes the function a ready
            :class:`~tfckpt_lab.CheckpointManager` writer:
            ``CheckpointManager(d, max_to_keep=3, writer=write_object_checkpoint)``.
        num_shards, shard_of, durable: as for :func:`~tfckpt_lab.write_bundle`.

    Returns the prefix.

    >>> import tempfile, os, numpy as np
    >>> from tfckpt_lab import list_variables
    >>> prefix = os.path.join(tempfile.mkdtemp(), "ckpt")
    >>> _ = write_object_checkpoint(prefix, {"model": {"w.1": np.zeros(2, np.float32)}})
    >>> [name for name, _ in list_variables(prefix)]
    ['_CHECKPOINTABLE_OBJECT_GRAPH', 'model/w..1/.ATTRIBUTES/VARIABLE_VALUE', 'save_counter/.ATTRIBUTES/VARIABLE_VALUE']
    """
    proto, tensors = build_object_graph(tree, save_counter)
    tensors[OBJECT_GRAPH_KEY] = np.array(proto.SerializeToString(deterministic=True), dtype=object)
    write_bundle(prefix, tensors, num_shards=num_shards, shard_of=shard_of, durable=durable)
    return os.fspath(prefix)
