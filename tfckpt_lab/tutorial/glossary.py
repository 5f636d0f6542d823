"""The tutorial's glossary: the words the notebooks use, each explained in a few lines.

This module is the source; ``docs/glossary.md`` is written from it by
``python -m tfckpt_lab.tutorial.sync`` (and a test fails if the two differ), so the
same definitions are on GitHub and in any notebook, installed or on Colab::

    from tfckpt_lab import tutorial
    tutorial.glossary("restart point")     # one entry
    tutorial.glossary()                    # all of them
"""

from __future__ import annotations

import html
import re

__all__ = ["TERMS", "glossary", "glossary_markdown", "Glossary"]

#: term -> (definition, where the tutorial shows it).  In alphabetical order.
TERMS: dict[str, tuple[str, str]] = {
    "block": (
        "A run of key/value entries inside an SSTable, followed by its restart array and a 5-byte "
        "trailer (compression type, masked CRC-32C). TensorFlow starts a new data block once one "
        "reaches 256 KiB, so most checkpoints have a single data block.",
        "notebook 04"),
    "block handle": (
        "Where a block is: its byte offset and size in the file, two varints. The footer holds the "
        "handles of the metaindex and index blocks; the index block holds one per data block.",
        "notebook 04"),
    "bundle": (
        "TensorFlow's own name (a *tensor bundle*) for the files of one checkpoint: the `.index` plus "
        "its `.data-SSSSS-of-NNNNN` shards. A SavedModel's `variables/` folder holds one too.",
        "notebooks 01, 02, 08"),
    "BundleEntryProto": (
        "The value stored in the `.index` for each tensor: dtype, shape, shard id, byte offset, size "
        "and masked CRC-32C of the bytes (or, for a partitioned variable, its slices).",
        "notebooks 02, 04"),
    "BundleHeaderProto": (
        "The value stored under the empty key, first in every `.index`: the number of data shards, "
        "the byte order and the format version.",
        "notebook 04"),
    "checkpoint": (
        "The saved values of a program's variables at one moment: one bundle, named by its prefix. "
        "(Also the name of the state file that lists them; see *state file*.)",
        "notebook 01"),
    "CRC-32C": (
        "A 32-bit checksum (the Castagnoli polynomial) over some bytes. Each tensor's bytes and each "
        "index block carry one, so a changed byte is noticed. Stored masked: see *masked CRC*.",
        "notebooks 02, 05"),
    "footer": (
        "The last 48 bytes of an SSTable: two block handles (metaindex, index), zero padding and the "
        "8-byte magic number. A reader starts here.",
        "notebook 04"),
    "global step": (
        "The training step a checkpoint was saved at. TF1's `Saver.save(..., global_step=1000)` only "
        "glues it onto the prefix (`model-1000`); it is stored inside only if a variable holds it.",
        "notebook 03"),
    "magic number": (
        "A fixed value that says what kind of file this is: `0xdb4775248b80fb57` in the last 8 bytes "
        "of every `.index` (LevelDB's table magic number), little-endian.",
        "notebook 04"),
    "masked CRC": (
        "How TensorFlow stores a CRC-32C: rotated right by 15 bits, plus `0xa282ead8` (modulo 2**32). "
        "LevelDB's rule, which TensorFlow follows: computing a CRC over bytes that already contain CRCs "
        "is problematic, so a stored CRC is always masked.",
        "notebooks 02, 05"),
    "meta graph": (
        "A `MetaGraphDef` protocol buffer: the program's graph (every op and variable), a SaverDef and "
        "collections. TF1's Saver writes it as `PREFIX.meta`; a SavedModel's `saved_model.pb` holds one. "
        "TF2 checkpoints have none.",
        "notebooks 01, 02, 06, 08"),
    "name-based checkpoint": (
        "A checkpoint whose keys are variable names (`w1`, `dense/kernel`), as TF1's Saver writes. "
        "Restoring matches keys to the graph's variable names.",
        "notebooks 06, 08"),
    "object graph": (
        "In a TF2 checkpoint, the tensor `_CHECKPOINTABLE_OBJECT_GRAPH`: every trackable object "
        "reachable from the root, its children by attribute name, and the key of each value. Keys are "
        "paths through it (`model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE`).",
        "notebooks 06, 07, 08"),
    "object-based checkpoint": (
        "What `tf.train.Checkpoint` writes: values keyed by their path from the root object, plus the "
        "object graph. Restoring matches paths, so attribute names matter and `tf.Variable(name=...)` "
        "does not.",
        "notebooks 06, 08"),
    "prefix": (
        "The common start of a checkpoint's file names, such as `run/model-1000`: the checkpoint is "
        "`PREFIX.index` plus `PREFIX.data-*` (and `PREFIX.meta` from TF1). APIs take the prefix, not a "
        "file name.",
        "notebooks 01, 02"),
    "prefix compression": (
        "In an SSTable block, each key stores only the bytes it does not share with the previous key "
        "(`shared`, `non_shared`), except at restart points.",
        "notebook 04"),
    "reference variable": (
        "TF1's original variable (`VariableV2` op), read and written through references. TF 2.x's "
        "`tf.compat.v1` makes resource variables instead unless `disable_v2_behavior()` is called.",
        "notebook 02"),
    "resource variable": (
        "A variable reached through a handle (`VarHandleOp`), read with `ReadVariableOp` and written "
        "with `AssignVariableOp`. What TF2, and TF 2.x's `tf.compat.v1` graphs, create.",
        "notebooks 02, 08"),
    "restart point": (
        "An entry in an SSTable block whose key is stored whole (`shared = 0`). Their offsets are "
        "listed at the end of the block so a reader can binary-search them; TensorFlow makes one every "
        "16 entries.",
        "notebook 04"),
    "restore status": (
        "What `tf.train.Checkpoint.restore()` returns. `assert_consumed()` checks that every value in "
        "the checkpoint found an object, `assert_existing_objects_matched()` that every object that "
        "exists got its value, `expect_partial()` silences warnings about values left unused.",
        "notebooks 06, 08"),
    "save counter": (
        "`tf.train.Checkpoint.save_counter`, an int64 variable counting `save()` calls, stored as "
        "`save_counter/.ATTRIBUTES/VARIABLE_VALUE` and used to number `ckpt-N`. Created by the first "
        "`save()`, a `restore()` or reading `ckpt.save_counter`; `write()` alone never creates it.",
        "notebooks 03, 08"),
    "SavedModel": (
        "TF2's format for a whole program: `saved_model.pb` (a meta graph with functions and an object "
        "graph) plus a `variables/` folder holding an ordinary bundle.",
        "notebook 08"),
    "SaverDef": (
        "The part of a meta graph that says how to save and restore: the tensor the prefix is fed into "
        "(`save/Const:0`), the save and restore ops, `max_to_keep`, keep-every-N-hours.",
        "notebook 06"),
    "shard": (
        "One data file of a checkpoint, `PREFIX.data-SSSSS-of-NNNNN` (numbered from 0). TF1's "
        "`Saver(sharded=True)` writes one per device that holds variables (a plain `Saver` writes one); "
        "TF2's `tf.train.Checkpoint` by default one per task (worker machine). The `.index` says which "
        "shard holds each tensor.",
        "notebooks 01, 05"),
    "slot variable": (
        "An optimizer variable that belongs to one model variable, such as Adam's `m` and `v` for a "
        "kernel. In TF2 object graphs (Keras 2 optimizers) its key hangs off the variable's path: "
        "`.../.OPTIMIZER_SLOT/optimizer/m/...`.",
        "notebook 07"),
    "SSTable": (
        "A sorted string table: LevelDB's file of sorted key/value entries in blocks, with an index "
        "block and a footer. A checkpoint's `.index` is one, keyed by tensor name.",
        "notebook 04"),
    "state file": (
        "The text file named `checkpoint` in a checkpoint folder: the newest prefix "
        "(`model_checkpoint_path`), the ones still kept, and (TF2) their timestamps. "
        "`latest_checkpoint()` reads it.",
        "notebooks 02, 03"),
    "trackable": (
        "A TF2 object that can be saved in an object-based checkpoint: variables, `tf.Module`s, Keras "
        "layers and optimizers, lists and dicts of them. Its attributes that are trackable become its "
        "children in the object graph.",
        "notebooks 06, 08"),
    "varint": (
        "A variable-length integer: 7 bits per byte, low bits first, the high bit set on every byte "
        "but the last. Numbers below 128 take one byte.",
        "notebooks 04, 05"),
}


def _anchor(term: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-")


def glossary_markdown() -> str:
    """``docs/glossary.md`` as text."""
    lines = ["# Glossary", "",
             "The words the tutorial notebooks use, in a few lines each. In a notebook,",
             '`tutorial.glossary("restart point")` shows one entry and `tutorial.glossary()` all of them.',
             "",
             "<!-- Written by `python -m tfckpt_lab.tutorial.sync` from tfckpt_lab/tutorial/glossary.py; "
             "edit that file, not this one. -->",
             ""]
    for term, (text, where) in sorted(TERMS.items(), key=lambda kv: kv[0].lower()):
        lines += [f"## {term}", "", f"{text} *({where})*", ""]
    return "\n".join(lines)


class Glossary:
    """Some entries of the glossary, shown as text or HTML."""

    def __init__(self, terms: list[str]):
        self.terms = terms

    def __repr__(self) -> str:
        return "\n\n".join(f"{t}: {TERMS[t][0]} ({TERMS[t][1]})" for t in self.terms)

    def _repr_html_(self) -> str:
        items = "".join(f"<dt><b>{html.escape(t)}</b></dt><dd>{html.escape(TERMS[t][0])} "
                        f"<i>({html.escape(TERMS[t][1])})</i></dd>" for t in self.terms)
        return f'<dl class="tfckpt-glossary">{items}</dl>'


def glossary(term: str | None = None) -> Glossary:
    """The glossary entry for ``term`` (any case; a plural 's' is ignored), or every entry.

    >>> glossary("Varints")
    varint: A variable-length integer: 7 bits per byte, low bits first, the high bit set on every byte but the last. Numbers below 128 take one byte. (notebooks 04, 05)
    """
    if term is None:
        return Glossary(sorted(TERMS, key=str.lower))
    wanted = term.strip().lower()
    for t in TERMS:
        if t.lower() in (wanted, wanted.rstrip("s"), wanted.removesuffix("es")):
            return Glossary([t])
    near = [t for t in TERMS if wanted in t.lower() or t.lower() in wanted]
    raise KeyError(f"{term!r} is not in the glossary" + (f"; did you mean {', '.join(near)}?" if near else
                                                           f"; it has: {', '.join(sorted(TERMS, key=str.lower))}"))
