"""The notebooks' exercises and their checkers.

Each exercise has an id (``"02-1"``: notebook 02, exercise 1), the question as
the notebook asks it, a hint, and a checker that looks at the learner's answer
and says what is right or wrong about it, pointing back at what to look at
rather than printing the solution.

Where the right answer is a fact about a file (a size, an offset, a key), the
checker works it out from bytes it writes itself with the format rules, so a
change in the library that made a notebook teach something false would also
make the checker disagree with it (``tests/test_notebooks.py`` runs every
exercise against its reference answer).
"""

from __future__ import annotations

import html
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Exercise", "Feedback", "EXERCISES", "check", "hint", "register", "kept_after", "mystery_checkpoint"]


@dataclass
class Feedback:
    """The result of :func:`check`: ``ok`` and a message.  Truthy when the answer is right."""

    exercise: str
    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        mark = "✅ right" if self.ok else "❌ not yet"
        return f"[{self.exercise}] {mark}: {self.message}"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#b35900"
        mark = "Right" if self.ok else "Not yet"
        return (f'<div class="tfckpt-feedback" style="border-left:4px solid {colour};padding:4px 8px">'
                f"<b>{self.exercise}: {mark}.</b> {html.escape(self.message)}</div>")


@dataclass
class Exercise:
    id: str
    question: str
    hint: str
    checker: Callable[[Any], tuple[bool, str]]
    reference: Any  # an answer the checker accepts (or a function giving it); for the tests only

    def reference_answer(self):
        return self.reference() if callable(self.reference) else self.reference


EXERCISES: dict[str, Exercise] = {}


def register(id: str, question: str, hint: str, reference):
    def wrap(fn):
        EXERCISES[id] = Exercise(id, question, hint, fn, reference)
        return fn

    return wrap


def _get(exercise_id: str) -> Exercise:
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise KeyError(f"no exercise {exercise_id!r}; there are {', '.join(sorted(EXERCISES))}") from None


def check(exercise_id: str, answer) -> Feedback:
    """Check ``answer`` to exercise ``exercise_id`` and say what is right or wrong about it.

    >>> check("02-2", 8).ok
    True
    >>> check("02-2", 4)
    [02-2] ❌ not yet: 4 bytes is one float32; w1 holds two of them.
    """
    ex = _get(exercise_id)
    if answer is ...:
        return Feedback(exercise_id, False, "replace the ... with your answer, then run the cell again. "
                                            f"Hint: {ex.hint}")
    try:
        ok, message = ex.checker(answer)
    except (TypeError, ValueError) as exc:
        ok, message = False, f"that answer has an unexpected form ({exc}). {ex.question}"
    return Feedback(exercise_id, ok, message)


def hint(exercise_id: str) -> str:
    """A nudge for exercise ``exercise_id``, without the answer."""
    return _get(exercise_id).hint


# -- small tools the checkers share -----------------------------------------------


def _int(answer) -> int:
    if isinstance(answer, bool):
        raise TypeError("expected a number, got True/False")
    if isinstance(answer, float) and not answer.is_integer():
        raise ValueError(f"expected a whole number, got {answer}")
    return int(answer)


def _scratch() -> str:
    return tempfile.mkdtemp(prefix="tfckpt_lab_check_")


def _names(answer) -> set[str]:
    if isinstance(answer, str):
        return {a.strip() for a in answer.replace(",", " ").split() if a.strip()}
    return {str(a).strip() for a in answer}


def _steps(answer) -> list[int]:
    """Step numbers from a list, or from text such as ``"800, 900, 1000"``."""
    if isinstance(answer, str):
        answer = answer.replace(",", " ").replace("[", " ").replace("]", " ").split()
    elif isinstance(answer, (int, float)):
        raise TypeError("expected a list of step numbers, such as [100, 200]")
    return sorted(_int(a) for a in answer)


def _kind(word: str) -> str:
    w = word.lower().lstrip(".").strip()
    if w.startswith("data"):
        return "data"
    if w in ("index", "meta", "checkpoint"):
        return w
    return w


# -- 01: what a model is on disk --------------------------------------------------


@register("01-1",
          "A colleague already has your model's code and wants only your trained values. Which kinds "
          "of file must you send? Answer with a set of kinds from {'meta', 'index', 'data', 'checkpoint'}.",
          "The code already builds the graph. Which files hold the numbers, and which file says where "
          "each number is?",
          {"index", "data"})
def _01_1(answer):
    kinds = {_kind(a) for a in _names(answer)}
    unknown = kinds - {"meta", "index", "data", "checkpoint"}
    if unknown:
        return False, f"{sorted(unknown)} is not one of the four kinds: meta, index, data, checkpoint."
    if "data" not in kinds:
        return False, "the values themselves are in the .data shards; without them there is nothing to load."
    if "index" not in kinds:
        return False, ("the .data file is raw bytes with no names in it; the .index is what says which "
                       "bytes belong to which variable.")
    if "meta" in kinds:
        return False, ("the .meta file describes the graph, which your colleague's code builds again; "
                       "it is not needed to restore values.")
    if "checkpoint" in kinds:
        return False, ("the 'checkpoint' file only helps find the newest checkpoint in a directory; "
                       "if you name the prefix directly, it is not needed.")
    return True, "the .index says where each tensor is; the .data shard(s) hold the bytes."


@register("01-2",
          "A checkpoint with prefix model-500 was saved in 3 shards, without a .meta file. How many "
          "files does it consist of?",
          "One index for the whole checkpoint, plus one data file per shard.",
          4)
def _01_2(answer):
    n = _int(answer)
    if n == 4:
        return True, "one .index plus three .data-0000N-of-00003 files."
    if n == 3:
        return False, "the three data shards are right, but something must say what is in them."
    if n == 5:
        return False, ("is that counting the 'checkpoint' state file? It belongs to the directory, "
                       "not to one checkpoint.")
    return False, f"{n} is not it. Count one index file and one data file per shard."


@register("01-3",
          "What is the file name of the last data shard of model-500 (saved in 3 shards)?",
          "Shards are numbered from 0, written with five digits, and the name also says how many there are.",
          "model-500.data-00002-of-00003")
def _01_3(answer):
    from ..bundle.naming import data_path

    want = data_path("model-500", 2, 3)
    a = os.path.basename(str(answer).strip())
    if a == want:
        return True, "shard numbers start at 0, so the third shard is 00002, and -of-00003 says there are 3."
    if a == data_path("model-500", 3, 3):
        return False, "shards are numbered from 0: with 3 shards the numbers are 00000, 00001, 00002."
    if "data" not in a:
        return False, "data shard names have the form PREFIX.data-SSSSS-of-NNNNN."
    return False, f"{a!r} does not match the pattern PREFIX.data-SSSSS-of-NNNNN with five-digit numbers."


# -- 02: saving the two-variable example --------------------------------------------


@register("02-1",
          "If w1 and w2 were float64 instead of float32, how many bytes would the data file hold?",
          "The data file is the tensors' raw bytes one after another: elements times bytes per element.",
          56)
def _02_1(answer):
    import numpy as np

    from ..bundle.writer import write_bundle

    prefix = os.path.join(_scratch(), "m")
    write_bundle(prefix, {"w1": np.zeros(2, np.float64), "w2": np.zeros(5, np.float64)})
    want = os.path.getsize(prefix + ".data-00000-of-00001")
    n = _int(answer)
    if n == want:
        return True, "7 elements x 8 bytes each, with nothing between or around them."
    if n == 28:
        return False, "28 is the float32 size. How many bytes does one float64 take?"
    if n == 7:
        return False, "7 is the number of elements; the question asks for bytes."
    return False, f"{n} is not it. There are 7 numbers in total, and the file has no header or padding."


@register("02-2",
          "At which byte offset of the data file does w2 start?",
          "Tensors are written in the order they were saved, back to back. How many bytes does w1 take?",
          8)
def _02_2(answer):
    n = _int(answer)
    if n == 8:
        return True, "w1 takes bytes 0..7 (two float32s), so w2 starts at byte 8."
    if n == 2:
        return False, "2 counts w1's elements; offsets count bytes, and a float32 is 4 bytes."
    if n == 4:
        return False, "4 bytes is one float32; w1 holds two of them."
    if n == 0:
        return False, "offset 0 is where w1 starts."
    return False, f"{n} is not it. Look at reader.entry('w2').offset, or count w1's bytes."


@register("02-3",
          "You add a third variable b, int32 with shape [3, 4], saved after w2. How big is the data file now?",
          "int32 is 4 bytes per element, and [3, 4] has 12 elements.",
          76)
def _02_3(answer):
    n = _int(answer)
    if n == 76:
        return True, "28 bytes for w1 and w2, then 12 x 4 = 48 bytes for b."
    if n == 48:
        return False, "48 is b alone; w1 and w2 are still in the file."
    if n == 40:
        return False, "b has shape [3, 4]: that is 12 elements, not 3."
    return False, f"{n} is not it. Add the bytes of all three tensors."


# -- 03: global_step, the checkpoint file, rotation --------------------------------


def kept_after(steps, times, max_to_keep, every_n_hours=None, *, rule="tf2", start=0.0):
    """Which steps survive a run of saves, by TF1's ``Saver`` or TF2's ``CheckpointManager`` rule.

    A small model of the two rules, written from TensorFlow's source, so the exercise
    checkers do not depend on the library's own Saver/CheckpointManager:

    * both keep the newest ``max_to_keep``; a checkpoint pushed out of that list is
      deleted unless ``keep_checkpoint_every_n_hours`` preserves it;
    * TF1 ``Saver``: preserved if saved *after* a deadline that starts at
      ``start + n hours`` and moves on by n hours each time one is preserved;
    * TF2 ``CheckpointManager``: preserved if saved at least n hours after the last
      preserved one (at first: after the manager was made, ``start``).

    >>> kept_after([1, 2, 3, 4], [0, 1, 2, 3], max_to_keep=2)
    [3, 4]
    """
    kept, preserved = [], []
    deadline = start + (every_n_hours or 0) * 3600.0  # TF1
    last_preserved = start                            # TF2
    for s, t in zip(steps, times):
        kept.append((s, t))
        while max_to_keep and len(kept) > max_to_keep:
            old, t_old = kept.pop(0)
            if every_n_hours:
                if rule == "tf1" and t_old > deadline:
                    deadline += every_n_hours * 3600.0
                    preserved.append(old)
                    continue
                if rule == "tf2" and t_old - every_n_hours * 3600.0 >= last_preserved:
                    last_preserved = t_old
                    preserved.append(old)
                    continue
    return sorted(preserved + [s for s, _ in kept])


_STEPS = list(range(100, 1001, 100))


@register("03-1",
          "You save every 100 steps from step 100 to step 1000 with max_to_keep=3. Which steps are "
          "still on disk at the end? Answer with a list of step numbers.",
          "Each save beyond max_to_keep deletes the oldest checkpoint in the list.",
          [800, 900, 1000])
def _03_1(answer):
    steps = _steps(answer)
    want = kept_after(_STEPS, [60.0 * i for i in range(10)], 3)
    if steps == want:
        return True, "only the newest three survive; each older one was deleted when a newer one was saved."
    if len(steps) != 3:
        return False, f"max_to_keep=3 keeps exactly three checkpoints once three exist; you listed {len(steps)}."
    if steps == [100, 200, 300]:
        return False, "it is the *oldest* checkpoints that are deleted, not the newest."
    return False, f"{steps} is not it. The newest checkpoint is always kept."


@register("03-2",
          "The manager is made at t = 0 and saves step 100 at 45 min, step 200 at 90 min, ... step 1000 "
          "at 450 min, with max_to_keep=3 and keep_checkpoint_every_n_hours=2. Which steps are on "
          "disk at the end?",
          "Go through the saves in order. When a checkpoint falls out of the newest three, keep it "
          "anyway if it was saved at least 2 hours after the last one kept that way (at first: t = 0).",
          [300, 600, 800, 900, 1000])
def _03_2(answer):
    steps = _steps(answer)
    times = [45 * 60.0 * (i + 1) for i in range(10)]
    want = kept_after(_STEPS, times, 3, 2)
    if steps == want:
        return True, ("800, 900, 1000 are the newest three; 300 (at 135 min) and 600 (at 270 min) were "
                      "each saved 2 hours or more after the previous preserved one.")
    if steps == [800, 900, 1000]:
        return False, "those are the newest three; keep_checkpoint_every_n_hours preserves some older ones too."
    if 100 in steps or 200 in steps:
        return False, "steps 100 and 200 were saved less than 2 hours after t = 0, so they are not preserved."
    if 400 in steps or 500 in steps:
        return False, ("the 2 hours are measured from the last *preserved* checkpoint, "
                       "not from t = 0 each time.")
    return False, f"{steps} is not it. Write out each save's time in minutes and walk through them."


@register("03-3",
          "With max_to_keep=None, which keeps every checkpoint's files: TF1's Saver, TF2's "
          "CheckpointManager, or both? Answer 'saver', 'manager' or 'both'.",
          "Read the table in this notebook: what does None mean for each?",
          "both")
def _03_3(answer):
    a = str(answer).strip().lower()
    if a == "both":
        return True, ("neither deletes anything. The difference is in the 'checkpoint' file: the manager "
                      "lists every checkpoint, the Saver lists only the newest.")
    if a in ("saver", "manager"):
        return False, f"the {a} keeps everything, but so does the other one; they differ in what the state file lists."
    return False, "answer 'saver', 'manager' or 'both'."


# -- 04: inside the .index ---------------------------------------------------------


@register("04-1",
          "What are the last 8 bytes of every .index file? Answer as a hex string, in file order.",
          "They are the table's magic number, stored as a little-endian 64-bit integer.",
          "57fb808b247547db")
def _04_1(answer):
    from ..sstable.format import TABLE_MAGIC_NUMBER

    want = TABLE_MAGIC_NUMBER.to_bytes(8, "little").hex()
    a = str(answer).lower().replace(" ", "").replace("0x", "")
    if a == want:
        return True, "that is LevelDB's table magic number 0xdb4775248b80fb57, little-endian."
    if a == TABLE_MAGIC_NUMBER.to_bytes(8, "big").hex():
        return False, "right number, wrong byte order: the file stores it little-endian."
    return False, "read the footer: index_bytes[-8:].hex()."


@register("04-2",
          "In a block, the key 'layer1/kernel' comes right after 'layer1/bias', and it is not at a "
          "restart point. How many bytes of it are stored (the non_shared part)?",
          "Count the leading bytes the two keys have in common; the rest is stored.",
          6)
def _04_2(answer):
    a, b = b"layer1/bias", b"layer1/kernel"
    shared = 0
    while shared < min(len(a), len(b)) and a[shared] == b[shared]:
        shared += 1
    want = len(b) - shared
    n = _int(answer)
    if n == want:
        return True, f"the first {shared} bytes 'layer1/' are shared, so only 'kernel' ({want} bytes) is stored."
    if n == shared:
        return False, f"{shared} is the shared part; the question asks how many bytes are stored."
    if n == len(b):
        return False, "that is the whole key; only a restart point stores the whole key."
    return False, f"{n} is not it. Compare the two keys byte by byte from the start."


@register("04-3",
          "How many restart points does the one data block of the demo checkpoint's .index have?",
          "TensorFlow's data blocks restart every 16 entries, and the first entry is always a restart.",
          1)
def _04_3(answer):
    from ..bundle.reader import BundleReader
    from ..demo import make_demo_checkpoint

    prefix = make_demo_checkpoint(_scratch())
    with BundleReader(prefix) as r:
        block = r.table.data_block(0)
        want = block.num_restarts
        n_entries = len(block.entries())
    n = _int(answer)
    if n == want:
        return True, (f"{n_entries} entries (the header and two tensors) fit before the 16th, so only the "
                      "first entry is a restart point.")
    if n == n_entries:
        return False, ("that is the number of entries. Entry w1 stores its whole key too, but only because "
                       "it shares nothing with the empty header key; a restart point is listed in the "
                       "restart array at the end of the block.")
    if n == 0:
        return False, "the first entry of a block is always a restart point."
    return False, f"{n} is not it. Look at the last 4 bytes of the block: they are num_restarts."


# -- 05: inside the data shards -----------------------------------------------------


@register("05-1",
          "How many bytes does the string tensor [b'a', b'bc'] take in a data file?",
          "A string tensor stores every length as a varint, then a 4-byte checksum of the lengths, "
          "then all the bytes.",
          9)
def _05_1(answer):
    import numpy as np

    from ..bundle.writer import write_bundle

    prefix = os.path.join(_scratch(), "s")
    write_bundle(prefix, {"s": np.array([b"a", b"bc"], dtype=object)})
    want = os.path.getsize(prefix + ".data-00000-of-00001")
    n = _int(answer)
    if n == want:
        return True, "two 1-byte varint lengths, a 4-byte masked CRC-32C of them, then 'a' 'bc'."
    if n == 3:
        return False, "3 is the characters alone; the lengths are stored too."
    if n == 5:
        return False, "lengths and characters are right; there is also a checksum over the lengths."
    return False, f"{n} is not it. Write it out: lengths, then checksum, then bytes."


def mystery_checkpoint(directory=None) -> str:
    """A checkpoint with exactly one damaged tensor, for exercise 05-2.  Returns its prefix."""
    import numpy as np

    from ..bundle.reader import BundleReader
    from ..bundle.writer import write_bundle

    d = directory or _scratch()
    rng = np.random.default_rng(5)
    tensors = {f"layer{i}/{part}": rng.standard_normal(shape).astype(np.float32)
               for i in range(3) for part, shape in (("kernel", (4, 4)), ("bias", (4,)))}
    prefix = write_bundle(os.path.join(d, "mystery"), tensors)
    with BundleReader(prefix) as r:
        e = r.entry(_MYSTERY_VICTIM)
    path = prefix + ".data-00000-of-00001"
    with open(path, "r+b") as f:
        f.seek(e.offset + 5)
        b = f.read(1)
        f.seek(e.offset + 5)
        f.write(bytes([b[0] ^ 0x10]))
    return prefix


_MYSTERY_VICTIM = "layer1/kernel"


@register("05-2",
          "tutorial.mystery_checkpoint() has one damaged tensor. Which one?",
          "verify_checkpoint(prefix) checks every tensor's CRC-32C and lists each problem with its byte range.",
          _MYSTERY_VICTIM)
def _05_2(answer):
    a = str(answer).strip()
    if a == _MYSTERY_VICTIM:
        return True, ("its bytes no longer match the CRC-32C stored in its index entry, so the reader "
                      "refuses to return it; the other five tensors still read fine.")
    if a.endswith(":0") and a[:-2] == _MYSTERY_VICTIM:
        return False, ("that is the one, but checkpoint keys have no ':0': that suffix names a graph "
                       "tensor, not a saved variable. Answer with the key as list_variables shows it.")
    names = {f"layer{i}/{part}" for i in range(3) for part in ("kernel", "bias")}
    if a in names:
        return False, f"{a} reads back without complaint. Which tensor's checksum fails?"
    return False, (f"{a!r} is not a tensor of the mystery checkpoint; tl.list_variables(mystery) "
                   "lists its six names.")


@register("05-3",
          "write_bundle(prefix, {'a': ..., 'b': ..., 'c': ...}, num_shards=2): in which shard does 'c' land?",
          "By default tensor number i (in the order given, counting from 0) goes to shard i % num_shards.",
          0)
def _05_3(answer):
    import numpy as np

    from ..bundle.reader import BundleReader
    from ..bundle.writer import write_bundle

    prefix = write_bundle(os.path.join(_scratch(), "m"),
                          {k: np.float32(i) for i, k in enumerate("abc")}, num_shards=2)
    with BundleReader(prefix) as r:
        want = r.entry("c").shard_id
    n = _int(answer)
    if n == want:
        return True, "'c' is tensor number 2, and 2 % 2 = 0: shard 0, after 'a'."
    if n == 2:
        return False, "shards are numbered 0 and 1 when there are two."
    return False, f"{n} is not it. Count the tensors from 0 and take the remainder."


# -- 06: restoring ------------------------------------------------------------------


@register("06-1",
          "A directory's 'checkpoint' file says model_checkpoint_path: \"model-300\" but model-300.index "
          "was deleted by hand. What does latest_checkpoint(directory) return?",
          "latest_checkpoint only returns a prefix whose files exist.",
          lambda: None)
def _06_1(answer):
    if answer in ("None", "none"):
        answer = None
    if answer is None:
        return True, ("it returns None: the state file names a checkpoint that is not there, and "
                      "latest_checkpoint does not go looking for an older one.")
    if "200" in str(answer) or "100" in str(answer):
        return False, ("it does not fall back to an older checkpoint in the list; it only checks the "
                       "one named as model_checkpoint_path.")
    return False, "it never returns a prefix whose .index is missing."


@register("06-2",
          "In the demo checkpoint, what is w2[3], rounded to 4 decimal places?",
          "load_checkpoint(prefix).get_tensor('w2') gives the array.",
          lambda: __import__("tfckpt_lab.demo", fromlist=["x"]).demo_variables()["w2"][3].round(4))
def _06_2(answer):
    from ..demo import demo_variables

    want = round(float(demo_variables()["w2"][3]), 4)
    a = float(answer)
    if abs(a - want) < 5e-5:
        return True, "that is the value stored at bytes 20..23 of the data file."
    w2 = demo_variables()["w2"]
    if abs(a - round(float(w2[2]), 4)) < 5e-5 or abs(a - round(float(w2[4]), 4)) < 5e-5:
        return False, "close: that is a neighbour. Indexing starts at 0."
    return False, f"{a} is not it. Read w2 and index it with [3]."


@register("06-3",
          "In a TF2 object-based checkpoint, the key of a variable is built from the path of names from "
          "the root object. What is the key of the value of variable 'v' held by an object stored as "
          "'dense' on the root?",
          "Keys look like PATH/.ATTRIBUTES/VARIABLE_VALUE.",
          "dense/v/.ATTRIBUTES/VARIABLE_VALUE")
def _06_3(answer):
    a = str(answer).strip()
    want = "dense/v/.ATTRIBUTES/VARIABLE_VALUE"
    if a == want:
        return True, "the path root -> 'dense' -> 'v', then the attribute name of a variable's value."
    if a.endswith("VARIABLE_VALUE") and "dense" not in a:
        return False, "the path must start from the root object's child, 'dense'."
    if a in ("dense/v", "v"):
        return False, "that is the path; a key also says which attribute of the object it holds."
    return False, f"{a!r} is not it. Compare with the keys in the object-graph section."


# -- 07: a real Keras checkpoint ---------------------------------------------------


@register("07-1",
          "How many trainable numbers (parameters) does the shipped Keras model have?",
          "Add up the sizes of the kernels and biases (not the optimizer's variables).",
          67)
def _07_1(answer):
    n = _int(answer)
    want = 4 * 8 + 8 + 8 * 3 + 3
    if n == want:
        return True, "4x8 + 8 for the hidden layer, 8x3 + 3 for the output layer."
    if n == 3 * want:
        return False, "that counts Adam's two moment estimates per parameter too; only the model's own weights."
    if n == 4 * 8 + 8 * 3:
        return False, "that leaves out the biases."
    return False, f"{n} is not it. Shapes are [4, 8], [8], [8, 3] and [3]."


@register("07-2",
          "How many training steps had the optimizer taken when the Keras checkpoint was written?",
          "Look for the optimizer's iterations counter among the tensors.",
          2)
def _07_2(answer):
    from ..checkpoint.reader import load_checkpoint
    from . import data_path

    with load_checkpoint(str(data_path("keras_adam") / "ckpt")) as r:
        want = int(r.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"))
    n = _int(answer)
    if n == want:
        return True, "16 samples with batch size 8 is 2 steps in one epoch."
    if n == 1:
        return False, "one epoch, but how many batches are in it?"
    return False, f"{n} is not it. Read optimizer/_iterations."


@register("07-3",
          "In the tf_keras checkpoint (legacy Adam), what is the key of the first moment ('m') of the "
          "output layer's kernel?",
          "Slot variables hang off the variable they belong to, under .OPTIMIZER_SLOT/optimizer/<slot name>.",
          "model/layer_with_weights-1/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE")
def _07_3(answer):
    from ..checkpoint.reader import list_variables
    from . import data_path

    names = {n for n, _ in list_variables(str(data_path("tf_keras_adam") / "ckpt"))}
    want = "model/layer_with_weights-1/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"
    a = str(answer).strip()
    if a == want:
        return True, "the slot's key is the kernel's path, then .OPTIMIZER_SLOT, the optimizer's path and 'm'."
    if a not in names:
        return False, "that key is not in the checkpoint; copy it from list_variables()."
    if "layer_with_weights-0" in a:
        return False, "layer_with_weights-0 is the hidden layer; the output layer is the second one."
    if "/v/" in a:
        return False, "'v' is the second moment; the question asks for 'm'."
    if "bias" in a:
        return False, "that is the bias; the question asks for the kernel."
    return False, "that is a key in the checkpoint, but not the slot asked for."
