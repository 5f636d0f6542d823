"""What a checkpoint's keys mean: model values or optimizer state, and readable names for TF2 values.

TF2 (object-based) checkpoints say it in their object graph:

* an *optimizer* is a node that owns slot variables (``slot_variables``, e.g. Adam's ``m`` and
  ``v`` in tf.keras 2), or a node reached by an edge named ``optimizer`` (``Checkpoint(optimizer=...)``,
  ``model.optimizer``; Keras 3 optimizers keep their moments as plain children, not slots);
* a value is *model* state if its node can be reached from the root without passing through an
  optimizer; everything else (slot variables, ``iter``/``iterations``, ``learning_rate``, Keras 3's
  ``optimizer/_variables/N``) is optimizer state.  Keras 3 saves each weight under
  ``optimizer/_trainable_variables/N/...`` (its shortest path goes through the optimizer), and it is
  still model state because ``model/_functional/_operations/1/_kernel`` reaches it too.

TF1 (name-based) checkpoints have only names.  ``tf.compat.v1.train`` optimizers name a slot
``<variable>/<optimizer name>`` and a second slot ``<variable>/<optimizer name>_1`` (checked with
TensorFlow 2.21's ``tf.compat.v1.train`` optimizers)::

    Adam              dense/kernel/Adam, dense/kernel/Adam_1, and beta1_power, beta2_power
    Adagrad           dense/kernel/Adagrad
    AdagradDA         dense/kernel/AdagradDA, dense/kernel/AdagradDA_1
    Momentum          dense/kernel/Momentum               (also with use_nesterov=True)
    RMSProp           dense/kernel/RMSProp, _1, _2        (_2: centered=True)
    Ftrl              dense/kernel/Ftrl, dense/kernel/Ftrl_1
    Adadelta          dense/kernel/Adadelta, dense/kernel/Adadelta_1
    ProximalAdagrad   dense/kernel/ProximalAdagrad
    GradientDescent, ProximalGradientDescent: no state

A second optimizer of the same kind in one graph gets ``beta1_power_1``...; the slot names stay.
A key counts as a slot only if ``<variable>`` is itself a key of the checkpoint.  An optimizer
given another ``name=`` uses that name instead, which no convention can know.  ``global_step``
is a training counter, not optimizer state, and is kept (as TF2's ``save_counter`` is).
"""

from __future__ import annotations

import re
from collections import deque

from .checkpoint.object_graph import OBJECT_GRAPH_KEY, VARIABLE_VALUE, escape_local_name

__all__ = ["TF1_OPTIMIZER_NAMES", "optimizer_keys", "tf1_optimizer_keys", "tf2_optimizer_keys",
           "object_path_names", "OBJECT_GRAPH_KEY"]

#: The names ``tf.compat.v1.train`` optimizers give their slots (and so the last element of a slot's key).
TF1_OPTIMIZER_NAMES = ("Adam", "Adagrad", "AdagradDA", "Momentum", "RMSProp", "Ftrl", "Adadelta",
                       "ProximalAdagrad")
_TF1_SLOT = re.compile(r"^(?P<var>.+)/(?:%s)(?:_\d+)?$" % "|".join(TF1_OPTIMIZER_NAMES))
_TF1_NON_SLOT = re.compile(r"^(?:.*/)?beta[12]_power(?:_\d+)?$")
OPTIMIZER_EDGE = "optimizer"


def tf1_optimizer_keys(keys) -> set[str]:
    """Keys that TF1 optimizers' naming conventions mark as optimizer state."""
    keys = set(keys)
    out = set()
    for k in keys:
        m = _TF1_SLOT.match(k)
        if (m and m.group("var") in keys) or _TF1_NON_SLOT.match(k):
            out.add(k)
    return out


def _optimizer_nodes(graph) -> set[int]:
    found = {n.id for n in graph.nodes if n.slot_variables}
    for n in graph.nodes:
        for local, child in n.children.items():
            if local == OPTIMIZER_EDGE:
                found.add(child)
    found.discard(0)
    return found


def _model_paths(graph) -> dict[int, str]:
    """node id -> shortest escaped path from the root that passes through no optimizer."""
    blocked = _optimizer_nodes(graph)
    paths = {0: ""}
    queue = deque([0])
    while queue:
        node = graph.nodes[queue.popleft()]
        for local, child in node.children.items():
            if child in paths or child in blocked:
                continue
            base = paths[node.id]
            paths[child] = f"{base}/{escape_local_name(local)}" if base else escape_local_name(local)
            queue.append(child)
    return paths


def _values(graph, keys):
    """``(key, node, attribute)`` for every key the graph names (values stored as several tensors too)."""
    by_key = {a.checkpoint_key: (n, a) for n in graph.nodes for a in n.attributes}
    for k in keys:
        hit = by_key.get(k)
        if hit is None:  # e.g. a lookup table's "<key>-keys" / "<key>-values"
            hit = next(((n, a) for ck, (n, a) in by_key.items() if k.startswith(ck)), None)
        if hit is not None:
            yield k, hit[0], hit[1]


def tf2_optimizer_keys(graph, keys) -> set[str]:
    """Keys of values that only an optimizer leads to (see the module docstring)."""
    model = _model_paths(graph)
    return {k for k, node, _ in _values(graph, keys) if node.id not in model}


def optimizer_keys(keys, graph=None) -> set[str]:
    """Optimizer state among ``keys``: from the object graph if given (TF2), else TF1 naming conventions."""
    return tf2_optimizer_keys(graph, keys) if graph is not None else tf1_optimizer_keys(keys)


def object_path_names(graph, keys) -> dict[str, str]:
    """checkpoint key -> readable object path (``model/dense/kernel``) for every key the graph names.

    Model values are named by their shortest path that avoids the optimizer (so a Keras 3 weight is
    ``model/_functional/_operations/1/_kernel``, not ``optimizer/_trainable_variables/0``); optimizer
    state by its graph path (a slot: ``<variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot>``).
    A value other than ``VARIABLE_VALUE`` gets ``/<attribute name>`` after its object's path.
    Path elements stay escaped as in checkpoint keys (``.`` -> ``..``, ``/`` -> ``.S``), so the names
    split back into local names unambiguously.
    """
    model = _model_paths(graph)
    out = {}
    for k, node, attr in _values(graph, keys):
        path = model.get(node.id, node.path)
        if path is None:
            path = f"(node {node.id})"
        name = path if attr.name == VARIABLE_VALUE else (f"{path}/{attr.name}" if path else attr.name)
        out[k] = name + k[len(attr.checkpoint_key):]
    return out
