"""The notebooks' exercises, their checkers, hints and worked solutions.

Each exercise has an id (``"02-1"``: notebook 02, exercise 1), the question as
the notebook asks it, a hint, a worked solution, and a checker that looks at the
learner's answer and says what is right or wrong about it, pointing back at what
to look at rather than printing the solution.

Nothing is given away unasked: an exercise cell as shipped,
``tutorial.check("02-1", ...)``, only says how to answer, so running every cell of
a notebook shows no answer and no hint.  ``tutorial.hint("02-1")`` gives a nudge,
``tutorial.solution("02-1")`` a worked solution with code.

Where the right answer is a fact about a file (a size, an offset, a key), the
checker works it out from bytes it writes itself with the library, so a change
that made a notebook teach something false would also make the checker disagree
with it.  Facts about TensorFlow's behaviour that no file shows (restore status,
rotation rules) were checked against TensorFlow 2.21 and are recorded in
``docs/teaching.md``; ``tests/test_tutorial_tf_facts.py`` re-checks them with real
TensorFlow.  Every worked solution's code, run on its own, sets ``answer`` to
something its checker accepts (``tests/test_tutorial_exercises.py``).
"""

from __future__ import annotations

import html
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Exercise", "Feedback", "Reveal", "EXERCISES", "check", "hint", "solution", "register",
           "kept_after", "mystery_checkpoint"]


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
class Reveal:
    """A hint or a worked solution, shown as text (with its code, if any) when a cell returns it."""

    exercise: str
    kind: str  # "hint" or "solution"
    text: str
    code: str = ""

    def __str__(self) -> str:
        return self.text + (f"\n\n{self.code}" if self.code else "")

    def __repr__(self) -> str:
        code = "\n".join("    " + line for line in self.code.splitlines())
        return f"[{self.exercise}] {self.kind}: {self.text}" + (f"\n\n{code}" if code else "")

    def _repr_html_(self) -> str:
        code = (f'<pre style="margin:4px 0 0 0">{html.escape(self.code)}</pre>' if self.code else "")
        return (f'<div class="tfckpt-{self.kind}" style="border-left:4px solid #6e7781;padding:4px 8px">'
                f"<b>{self.exercise}, {self.kind}:</b> {html.escape(self.text)}{code}</div>")


@dataclass
class Exercise:
    id: str
    question: str
    hint: str
    explanation: str  # the worked solution, in words
    code: str         # the worked solution as code; run on its own it sets ``answer``
    checker: Callable[[Any], tuple[bool, str]]
    reference: Any    # an answer the checker accepts (or a function giving it); for the tests
    wrong: tuple = field(default_factory=tuple)  # known wrong answers the checker must reject

    def reference_answer(self):
        return self.reference() if callable(self.reference) else self.reference


EXERCISES: dict[str, Exercise] = {}


def register(id: str, question: str, hint: str, reference, *, solution: str, code: str, wrong=()):
    def wrap(fn):
        EXERCISES[id] = Exercise(id, question, hint, solution, code.strip("\n"), fn, reference, tuple(wrong))
        return fn

    return wrap


def _get(exercise_id: str) -> Exercise:
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise KeyError(f"no exercise {exercise_id!r}; there are {', '.join(sorted(EXERCISES))}") from None


def check(exercise_id: str, answer) -> Feedback:
    """Check ``answer`` to exercise ``exercise_id`` and say what is right or wrong about it.

    ``...`` (the cell as shipped) gets only instructions: no hint, no answer.

    >>> check("02-2", 8).ok
    True
    >>> check("02-2", 0)
    [02-2] ❌ not yet: that is where the dictionary's order would put it, as write_bundle does. The Saver sorts the variables by name before writing.
    >>> check("02-2", ...).message
    'Replace the ... with your answer and run the cell again. Stuck? tutorial.hint("02-2") gives a nudge; tutorial.solution("02-2") shows a worked solution.'
    """
    ex = _get(exercise_id)
    if answer is ...:
        return Feedback(exercise_id, False,
                        f'Replace the ... with your answer and run the cell again. Stuck? tutorial.hint("{ex.id}") '
                        f'gives a nudge; tutorial.solution("{ex.id}") shows a worked solution.')
    try:
        ok, message = ex.checker(answer)
    except (TypeError, ValueError) as exc:
        ok, message = False, f"that answer has an unexpected form ({exc}). {ex.question}"
    return Feedback(exercise_id, ok, message)


def hint(exercise_id: str) -> Reveal:
    """A nudge for exercise ``exercise_id``, without the answer."""
    ex = _get(exercise_id)
    return Reveal(ex.id, "hint", ex.hint)


def solution(exercise_id: str) -> Reveal:
    """The worked solution of exercise ``exercise_id``: how to get there, and code that finds the answer."""
    ex = _get(exercise_id)
    return Reveal(ex.id, "solution", ex.explanation, ex.code)


# -- small tools the checkers share -----------------------------------------------


def _int(answer) -> int:
    if isinstance(answer, bool):
        raise TypeError("expected a number, got True/False")
    if isinstance(answer, float) and not answer.is_integer():
        raise ValueError(f"expected a whole number, got {answer}")
    if isinstance(answer, str):
        answer = answer.strip()
    return int(answer)


class _Scratch(tempfile.TemporaryDirectory):
    """A temporary folder a checker writes its own files into, removed afterwards."""

    def __init__(self):
        super().__init__(prefix="tfckpt_lab_check_")


def _items(answer) -> list[str]:
    """Items of a set/list answer, or of a string separated by commas."""
    if isinstance(answer, str):
        return [a.strip() for a in answer.split(",") if a.strip()]
    if isinstance(answer, (int, float, bytes)) or answer is None:
        raise TypeError("expected a set of names, such as {'a', 'b'}")
    return [str(a).strip() for a in answer]


def _steps(answer) -> list[int]:
    """Step numbers from a list, or from text such as ``"800, 900, 1000"``."""
    if isinstance(answer, str):
        answer = answer.replace(",", " ").replace("[", " ").replace("]", " ").split()
    elif isinstance(answer, (int, float)):
        raise TypeError("expected a list of step numbers, such as [100, 200]")
    return sorted(_int(a) for a in answer)


def _pair(answer) -> tuple[int, int]:
    """Two whole numbers, from a tuple/list or text such as ``"20, 24"``."""
    if isinstance(answer, str):
        answer = answer.replace("(", " ").replace(")", " ").replace(",", " ").replace(":", " ").split()
    items = list(answer)
    if len(items) != 2:
        raise ValueError(f"expected two numbers, got {len(items)}")
    return _int(items[0]), _int(items[1])


_DATA_NAME = re.compile(r"^data(-\d{5}-of-\d{5})?$")
_KIND_WORDS = {
    "index": "index", "index file": "index",
    "data": "data", "data file": "data", "data files": "data", "data shard": "data",
    "data shards": "data", "shard": "data", "shards": "data",
    "meta": "meta", "meta graph": "meta", "metagraph": "meta", "meta file": "meta",
    "checkpoint": "checkpoint", "checkpoint file": "checkpoint", "state file": "checkpoint",
}


def _kind(word: str) -> str | None:
    """The kind of checkpoint file a learner's word names, or None if it names none."""
    w = " ".join(word.lower().strip().lstrip(".").split())
    if _DATA_NAME.match(w):
        return "data"
    return _KIND_WORDS.get(w)


def _basename(answer) -> str:
    return os.path.basename(str(answer).strip().strip("'\""))


# -- 01: what a model is on disk --------------------------------------------------


@register("01-1",
          "A colleague already has your model's code and wants only your trained values. Which kinds "
          "of file must you send? Answer with a set of kinds from {'meta', 'index', 'data', 'checkpoint'}.",
          "The code already builds the graph. Which files hold the numbers, and which file says where "
          "each number is?",
          {"index", "data"},
          solution="Their code rebuilds the graph, so the .meta is not needed; they will name the prefix "
                   "themselves, so the 'checkpoint' state file is not needed either. The values are in the "
                   ".data shard(s), and only the .index says which bytes belong to which variable.",
          code="""
answer = {"index", "data"}
""",
          wrong=({"index", "database"}, {"data"}, {"index"}, {"index", "data", "meta"},
                 {"index", "data", "checkpoint"}, "database, index"))
def _01_1(answer):
    words = _items(answer)
    unknown = [w for w in words if _kind(w) is None]
    if unknown:
        return False, (f"{unknown} is not one of the four kinds: meta, index, data, checkpoint "
                       "(file endings such as '.index' are fine too).")
    kinds = {_kind(w) for w in words}
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
          4,
          solution="One .index for the whole checkpoint plus one .data file per shard: 1 + 3. Writing one "
                   "and listing the folder shows it.",
          code="""
import os, tempfile
import numpy as np
import tfckpt_lab as tl

folder = tempfile.mkdtemp()
tl.write_bundle(os.path.join(folder, "model-500"),
                {f"v{i}": np.zeros(1, np.float32) for i in range(3)}, num_shards=3)
print(sorted(os.listdir(folder)))
answer = len(os.listdir(folder))
""",
          wrong=(3, 5, 6))
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
          "model-500.data-00002-of-00003",
          solution="Shard numbers start at 0, so three shards are 00000, 00001 and 00002; the name also "
                   "carries the total, -of-00003.",
          code="""
import os, tempfile
import numpy as np
import tfckpt_lab as tl

three = {name: np.zeros(1, np.float32) for name in ("a", "b", "c")}
prefix = tl.write_bundle(os.path.join(tempfile.mkdtemp(), "model-500"), three, num_shards=3)
shards = tl.load_checkpoint(prefix).lowlevel.data_paths()   # the header says how many there are
answer = os.path.basename(shards[-1])
""",
          wrong=("model-500.data-00003-of-00003", "model-500.data-2-of-3", "model-500.index"))
def _01_3(answer):
    from ..bundle.naming import data_path

    want = data_path("model-500", 2, 3)
    a = _basename(answer)
    if a == want:
        return True, "shard numbers start at 0, so the third shard is 00002, and -of-00003 says there are 3."
    if a == data_path("model-500", 3, 3):
        return False, "shards are numbered from 0: with 3 shards the numbers are 00000, 00001, 00002."
    if "data" not in a:
        return False, "data shard names have the form PREFIX.data-SSSSS-of-NNNNN."
    return False, f"{a!r} does not match the pattern PREFIX.data-SSSSS-of-NNNNN with five-digit numbers."


# -- 02: saving the two-variable example --------------------------------------------


def _saved_two(directory, dtype) -> str:
    import numpy as np

    from ..checkpoint.saver import Saver

    return Saver().save({"w1": np.zeros(2, dtype), "w2": np.zeros(5, dtype)},
                        os.path.join(directory, "my_test_model"), global_step=1000)


@register("02-1",
          "If w1 and w2 were float64 instead of float32, how many bytes would the data file hold?",
          "The data file is the tensors' raw bytes one after another: elements times bytes per element.",
          56,
          solution="7 numbers (2 + 5), each 8 bytes as float64, with nothing between or around them: "
                   "7 x 8 = 56.",
          code="""
import os, tempfile
import numpy as np
import tfckpt_lab as tl

prefix = tl.Saver().save({"w1": np.zeros(2, np.float64), "w2": np.zeros(5, np.float64)},
                         os.path.join(tempfile.mkdtemp(), "my_test_model"), global_step=1000)
answer = os.path.getsize(prefix + ".data-00000-of-00001")
""",
          wrong=(28, 7, 14))
def _02_1(answer):
    import numpy as np

    with _Scratch() as d:
        want = os.path.getsize(_saved_two(d, np.float64) + ".data-00000-of-00001")
    n = _int(answer)
    if n == want:
        return True, "7 elements x 8 bytes each, with nothing between or around them."
    if n == 28:
        return False, "28 is the float32 size. How many bytes does one float64 take?"
    if n == 7:
        return False, "7 is the number of elements; the question asks for bytes."
    return False, f"{n} is not it. There are 7 numbers in total, and the file has no header or padding."


def _saver_offsets(sizes: dict) -> dict:
    """Byte offsets in the data file when a TF1 Saver saves variables of these sizes (in any order):
    it sorts them by name and writes them back to back (``saveable_object_util``; checked with
    TensorFlow 2.21 in tests/test_tutorial_tf_facts.py)."""
    offsets, at = {}, 0
    for name in sorted(sizes):
        offsets[name], at = at, at + sizes[name]
    return offsets


@register("02-2",
          "Suppose the dictionary had listed w2 first: saver.save({'w2': w2, 'w1': w1}, 'my_test_model', "
          "global_step=1000). At which byte offset of the data file would w2 start?",
          "Does the order of the dictionary decide the order in the file? Read again what the Saver does "
          "before it writes, then count w1's bytes.",
          8,
          solution="The Saver (TensorFlow's too) sorts the variables by name before writing, so w1 still comes "
                   "first and takes bytes 0..7 (two float32s); w2 starts right after, at byte 8. The "
                   "dictionary's order plays no part.",
          code="""
sizes = {"w2": 5 * 4, "w1": 2 * 4}       # bytes of each float32 variable, in the dictionary's order
offset = 0
for name in sorted(sizes):               # the Saver writes in name order: w1, then w2
    if name == "w2":
        answer = offset
    offset += sizes[name]
""",
          wrong=(0, 2, 4, 20, 28))
def _02_2(answer):
    want = _saver_offsets({"w2": 20, "w1": 8})["w2"]
    n = _int(answer)
    if n == want:
        return True, "the Saver sorts by name: w1 takes bytes 0..7 (two float32s) whatever the order given, so w2 starts at 8."
    if n == 0:
        return False, ("that is where the dictionary's order would put it, as write_bundle does. The Saver "
                       "sorts the variables by name before writing.")
    if n == 2:
        return False, "2 counts w1's elements; offsets count bytes, and a float32 is 4 bytes."
    if n == 4:
        return False, "4 bytes is one float32; w1 holds two of them."
    if n == 20:
        return False, "20 is w2's own size; the offset is where it starts."
    return False, f"{n} is not it. Which variable comes first in the file, and how many bytes does it take?"


@register("02-3",
          "You add a third variable b, int32 with shape [3, 4], and save all three. How big is the data "
          "file now?",
          "int32 is 4 bytes per element, and [3, 4] has 12 elements. Nothing else is added to the file.",
          76,
          solution="w1 and w2 still take 28 bytes; b adds 12 elements x 4 bytes = 48. The order in the "
                   "file (b sorts first) does not change the size: 28 + 48 = 76.",
          code="""
import os, tempfile
import numpy as np
import tfckpt_lab as tl

variables = {"w1": np.zeros(2, np.float32), "w2": np.zeros(5, np.float32), "b": np.zeros((3, 4), np.int32)}
prefix = tl.Saver().save(variables, os.path.join(tempfile.mkdtemp(), "my_test_model"), global_step=1000)
answer = os.path.getsize(prefix + ".data-00000-of-00001")
""",
          wrong=(48, 40, 28, 64))
def _02_3(answer):
    import numpy as np

    from ..checkpoint.saver import Saver

    with _Scratch() as d:
        prefix = Saver().save({"w1": np.zeros(2, np.float32), "w2": np.zeros(5, np.float32),
                               "b": np.zeros((3, 4), np.int32)}, os.path.join(d, "m"), global_step=1)
        want = os.path.getsize(prefix + ".data-00000-of-00001")
    n = _int(answer)
    if n == want:
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
_PACE_03_2 = 50  # minutes between saves; at this pace the TF1 and TF2 rules keep different steps


def _answer_03_2() -> dict:
    times = [_PACE_03_2 * 60.0 * (i + 1) for i in range(len(_STEPS))]
    return {"saver": kept_after(_STEPS, times, 3, 2, rule="tf1"),
            "manager": kept_after(_STEPS, times, 3, 2, rule="tf2")}


@register("03-1",
          "You save every 100 steps from step 100 to step 1000 with max_to_keep=3. Which steps are "
          "still on disk at the end? Answer with a list of step numbers.",
          "Each save beyond max_to_keep deletes the oldest checkpoint in the list.",
          [800, 900, 1000],
          solution="Once three checkpoints exist, every new save pushes the oldest one out of the list and "
                   "deletes its files, so only the newest three are left.",
          code="""
import os, tempfile
import numpy as np
import tfckpt_lab as tl

folder = tempfile.mkdtemp()
saver = tl.Saver(max_to_keep=3)
for step in range(100, 1001, 100):
    saver.save({"w": np.zeros(1, np.float32)}, os.path.join(folder, "model"), global_step=step)
answer = sorted(int(n[len("model-"):-len(".index")]) for n in os.listdir(folder) if n.endswith(".index"))
""",
          wrong=([100, 200, 300], [900, 1000], [700, 800, 900, 1000], 1000))
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
          f"A Saver and a CheckpointManager are each made at t = 0 and save step 100 at {_PACE_03_2} min, "
          f"step 200 at {2 * _PACE_03_2} min, ... step 1000 at {10 * _PACE_03_2} min, both with "
          "max_to_keep=3 and keep_checkpoint_every_n_hours=2. Which steps does each leave on disk? "
          "Answer with a dict {'saver': [...], 'manager': [...]}.",
          "Go through the saves in order and, each time a checkpoint falls out of the newest three, decide "
          "whether it is kept. Saver: kept if saved after a deadline (first 2 h, then +2 h per kept one). "
          "Manager: kept if saved at least 2 h after the last one kept (at first: t = 0).",
          _answer_03_2,
          solution="The newest three (800, 900, 1000) survive in both. The older ones are judged as they fall "
                   "out, at 50, 100, 150, ... 350 min. Saver: deadline 120 min; 300 (150 min) is past it, kept, "
                   "deadline 240; 500 (250 min) is past that, kept, deadline 360; 700 (350 min) is not. "
                   "Manager: 300 (150 min) is at least 2 h after t = 0, kept; 400 and 500 are less than 2 h "
                   "after 150 min; 600 (300 min) is, kept; 700 (350 min) is not 2 h after 300 min.",
          code="""
from tfckpt_lab import tutorial

steps = list(range(100, 1001, 100))
times = [50 * 60.0 * (i + 1) for i in range(10)]   # seconds after t = 0
answer = {"saver": tutorial.kept_after(steps, times, 3, 2, rule="tf1"),
          "manager": tutorial.kept_after(steps, times, 3, 2, rule="tf2")}
""",
          wrong=({"saver": [800, 900, 1000], "manager": [800, 900, 1000]},
                 {"saver": [300, 600, 800, 900, 1000], "manager": [300, 600, 800, 900, 1000]},
                 {"saver": [300, 600, 800, 900, 1000], "manager": [300, 500, 800, 900, 1000]},
                 [300, 600, 800, 900, 1000]))
def _03_2(answer):
    want = _answer_03_2()
    if not hasattr(answer, "get") or set(answer) != {"saver", "manager"}:
        return False, "answer with a dict with two lists: {'saver': [...], 'manager': [...]}."
    got = {k: _steps(answer[k]) for k in ("saver", "manager")}
    if got == want:
        return True, (f"the Saver keeps {want['saver']} and the manager {want['manager']}: the same newest "
                      "three, but different older ones, because the Saver's deadlines sit on a fixed 2-hour "
                      "grid while the manager measures 2 hours from the last one it kept.")
    if got == {"saver": want["manager"], "manager": want["saver"]}:
        return False, "the two lists are swapped: which rule keeps 500, and which keeps 600?"
    for who in ("saver", "manager"):
        steps = got[who]
        if steps == [800, 900, 1000]:
            return False, f"{who}: those are the newest three; keep_checkpoint_every_n_hours keeps some older ones too."
        if 100 in steps or 200 in steps:
            return False, f"{who}: steps 100 and 200 were saved less than 2 hours after t = 0, so they are not kept."
    if got["saver"] == want["saver"]:
        return False, ("the Saver is right. For the manager, measure 2 hours from the last checkpoint it "
                       "*kept*, not from a fixed grid.")
    if got["manager"] == want["manager"]:
        return False, ("the manager is right. For the Saver, the deadline moves on by exactly 2 hours each "
                       "time it keeps one: 120 min, then 240, then 360.")
    return False, "neither list is right yet. Write out each save's time in minutes and walk through them."


@register("03-3",
          "With max_to_keep=None, which keeps every checkpoint's files: TF1's Saver, TF2's "
          "CheckpointManager, or both? Answer 'saver', 'manager' or 'both'.",
          "Read the table in this notebook: what does None mean for each?",
          "both",
          solution="Neither deletes anything with max_to_keep=None. They differ in the state file: the "
                   "manager lists every checkpoint, the Saver (which stores None as 0) lists only the newest.",
          code="""
answer = "both"
""",
          wrong=("saver", "manager", "neither"))
def _03_3(answer):
    a = str(answer).strip().lower()
    if a == "both":
        return True, ("neither deletes anything. The difference is in the 'checkpoint' file: the manager "
                      "lists every checkpoint, the Saver lists only the newest.")
    if a in ("saver", "manager"):
        return False, f"the {a} keeps everything, but so does the other one; they differ in what the state file lists."
    return False, "answer 'saver', 'manager' or 'both'."


def _restart_without_restore(directory) -> list[str]:
    """Five saves with a manager, a 'restart' (a new manager), one save without restoring: the listed prefixes."""
    import numpy as np

    from ..checkpoint.manager import CheckpointManager
    from ..checkpoint.state import get_checkpoint_state

    first = CheckpointManager(directory, max_to_keep=3)
    for step in range(5):
        first.save({"w": np.full(2, step, np.float32)})
    CheckpointManager(directory, max_to_keep=3).save({"w": np.zeros(2, np.float32)})
    return [os.path.basename(p) for p in get_checkpoint_state(directory).all_model_checkpoint_paths]


@register("03-4",
          "A training run saved five times with CheckpointManager(d, max_to_keep=3), so ckpt-3, ckpt-4 and "
          "ckpt-5 are on disk. The process is restarted: the new one builds a fresh manager on d and calls "
          "save() without restoring anything first. Which checkpoints does the state file list after that "
          "save, oldest first? Answer with a list of names such as ['ckpt-3', ...].",
          "Two questions: what number does a brand-new manager's save counter give the save, and what does "
          "the manager do with the checkpoints its state file already lists?",
          ["ckpt-4", "ckpt-5", "ckpt-1"],
          solution="The new manager reads the state file (ckpt-3, ckpt-4, ckpt-5) but its save counter starts at "
                   "0, so the save writes ckpt-1 and appends it as the newest. Four listed, max_to_keep=3: the "
                   "oldest, ckpt-3, is deleted. The list is ckpt-4, ckpt-5, ckpt-1, and 'latest' is now ckpt-1 "
                   "with untrained values. With manager.restore_or_initialize() first, the save would have "
                   "been ckpt-6.",
          code="""
import os, tempfile
import numpy as np
import tfckpt_lab as tl

folder = tempfile.mkdtemp()
first = tl.CheckpointManager(folder, max_to_keep=3)
for step in range(5):
    first.save({"w": np.full(2, step, np.float32)})
tl.CheckpointManager(folder, max_to_keep=3).save({"w": np.zeros(2, np.float32)})   # no restore_or_initialize()
answer = [os.path.basename(p) for p in tl.get_checkpoint_state(folder).all_model_checkpoint_paths]
""",
          wrong=(["ckpt-4", "ckpt-5", "ckpt-6"], ["ckpt-3", "ckpt-4", "ckpt-5"], ["ckpt-1", "ckpt-4", "ckpt-5"],
                 ["ckpt-1"], "ckpt-1"))
def _03_4(answer):
    with _Scratch() as d:
        want = _restart_without_restore(d)
    if isinstance(answer, str):
        raise TypeError("expected a list of names, such as ['ckpt-3', 'ckpt-4']")
    got = [_basename(a) for a in answer]
    if got == want:
        return True, ("the fresh counter makes the save ckpt-1, listed as the newest; ckpt-3 is rotated out. "
                      "TensorFlow 2.21 does the same. manager.restore_or_initialize() first avoids it.")
    if got[-1:] == ["ckpt-6"]:
        return False, ("ckpt-6 is what you get after manager.restore_or_initialize(). Without it, where does "
                       "the new manager's save counter start?")
    if sorted(got) == sorted(want):
        return False, "the right three, but the list is in save order: the newest save comes last."
    if "ckpt-1" in got and len(got) != 3:
        return False, "ckpt-1 is right for the new save; the manager still keeps max_to_keep=3 listed."
    if got == ["ckpt-3", "ckpt-4", "ckpt-5"]:
        return False, "that is the list before the restart; the new save is added to it and the oldest rotated out."
    return False, f"{got} is not it. Work out the new save's name first, then apply max_to_keep=3."


# -- 04: inside the .index ---------------------------------------------------------


@register("04-1",
          "What are the last 8 bytes of every .index file? Answer as bytes (index[-8:]) or as a hex "
          "string, in file order.",
          "They are the table's magic number, stored as a little-endian 64-bit integer.",
          "57fb808b247547db",
          solution="The footer ends with LevelDB's table magic number 0xdb4775248b80fb57, stored "
                   "little-endian, so the lowest byte (57) comes first in the file.",
          code="""
import os, tempfile
import numpy as np
import tfckpt_lab as tl

from pathlib import Path

prefix = tl.write_bundle(os.path.join(tempfile.mkdtemp(), "m"), {"w": np.zeros(2, np.float32)})
answer = Path(prefix + ".index").read_bytes()[-8:]
""",
          wrong=("db4775248b80fb57", b"\xdb\x47\x75\x24\x8b\x80\xfb\x57", 0xdb4775248b80fb57, "00" * 8))
def _04_1(answer):
    from ..sstable.format import TABLE_MAGIC_NUMBER

    want = TABLE_MAGIC_NUMBER.to_bytes(8, "little")
    if isinstance(answer, int) and not isinstance(answer, bool):
        if answer == TABLE_MAGIC_NUMBER:
            return False, ("that is the magic number as an integer; the question asks for the 8 bytes in "
                           "the order the file stores them.")
        return False, "answer with the bytes (index[-8:]) or their hex string."
    if isinstance(answer, (bytes, bytearray, memoryview)):
        got = bytes(answer)
    else:
        text = str(answer).lower().replace(" ", "").replace("0x", "").replace("\\x", "")
        try:
            got = bytes.fromhex(text)
        except ValueError:
            return False, "that is not a hex string; read the footer: index[-8:].hex()."
    if got == want:
        return True, "that is LevelDB's table magic number 0xdb4775248b80fb57, stored little-endian."
    if got == want[::-1]:
        return False, "right number, wrong byte order: the file stores it little-endian."
    if len(got) != 8:
        return False, f"that is {len(got)} bytes; the question asks for the last 8."
    return False, "read the footer: index[-8:]."


@register("04-2",
          "In a block, the key 'layer1/kernel' comes right after 'layer1/bias', and it is not at a "
          "restart point. How many bytes of it are stored (the non_shared part)?",
          "Count the leading bytes the two keys have in common; the rest is stored.",
          6,
          solution="'layer1/' (7 bytes) is shared with the previous key, so only 'kernel' is stored: "
                   "13 - 7 = 6 bytes.",
          code="""
previous, key = "layer1/bias", "layer1/kernel"
shared = 0
while previous[shared] == key[shared]:   # 'layer1/' is common to both
    shared += 1
answer = len(key) - shared
""",
          wrong=(7, 13, 4))
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


def _restarts_for_entries(n_entries: int) -> int:
    """num_restarts of the one data block of an index holding the header and n_entries - 1 tensors."""
    import numpy as np

    from ..bundle.reader import BundleReader
    from ..bundle.writer import write_bundle

    with _Scratch() as d:
        prefix = write_bundle(os.path.join(d, "m"), {f"v{i:03d}": np.zeros(1, np.float32) for i in range(n_entries - 1)})
        with BundleReader(prefix) as r:
            assert r.table.num_data_blocks == 1
            block = r.table.data_block(0)
            assert len(block.records()) == n_entries
            return block.num_restarts


@register("04-3",
          "A checkpoint of 39 small tensors has one data block in its .index, holding 40 entries (the "
          "header and the 39 tensors). How many restart points does that block have?",
          "TensorFlow's data blocks restart every 16 entries, and the first entry is always a restart.",
          lambda: _restarts_for_entries(40),
          solution="Entries 0, 16 and 32 are restart points (every 16th, counting from the first): 3. "
                   "Writing such a checkpoint and reading num_restarts from the end of the block agrees.",
          code="""
import os, tempfile
import numpy as np
import tfckpt_lab as tl

prefix = tl.write_bundle(os.path.join(tempfile.mkdtemp(), "m"), {f"v{i:03d}": np.zeros(1, np.float32) for i in range(39)})
block = tl.BundleReader(prefix).table.data_block(0)
print(len(block.records()), "entries, restarts at byte offsets", block.restarts)
answer = block.num_restarts
""",
          wrong=(2, 40, 1, 4))
def _04_3(answer):
    want = _restarts_for_entries(40)
    n = _int(answer)
    if n == want:
        return True, "entries 0, 16 and 32 store their whole key: three restart points."
    if n == 40 // 16:
        return False, "40 // 16 leaves out the first entry, which is always a restart point: count entries 0, 16, 32."
    if n == 40:
        return False, "that is the number of entries; only every 16th is a restart point."
    if n == 1:
        return False, "one restart is enough for up to 16 entries; this block has 40."
    return False, f"{n} is not it. Which entry numbers (from 0) are multiples of 16?"


# -- 05: inside the data shards -----------------------------------------------------


@register("05-1",
          "How many bytes does the string tensor [b'a', b'bc'] take in a data file?",
          "A string tensor stores every length as a varint, then a 4-byte checksum of the lengths, "
          "then all the bytes.",
          9,
          solution="Two lengths, 1 and 2, one varint byte each; a 4-byte masked CRC-32C of the lengths; then "
                   "the 3 bytes 'a' 'bc': 2 + 4 + 3 = 9.",
          code="""
import os, tempfile
import numpy as np
import tfckpt_lab as tl

prefix = tl.write_bundle(os.path.join(tempfile.mkdtemp(), "s"), {"s": np.array([b"a", b"bc"], dtype=object)})
answer = os.path.getsize(prefix + ".data-00000-of-00001")
""",
          wrong=(3, 5, 7, 11))
def _05_1(answer):
    import numpy as np

    from ..bundle.writer import write_bundle

    with _Scratch() as d:
        prefix = write_bundle(os.path.join(d, "s"), {"s": np.array([b"a", b"bc"], dtype=object)})
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

    d = directory or tempfile.mkdtemp(prefix="tfckpt_lab_mystery_")
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
          _MYSTERY_VICTIM,
          solution="verify_checkpoint reads every tensor, recomputes its CRC-32C and compares it with the "
                   "one in the index entry; exactly one disagrees. Its byte range, or reading each tensor "
                   "(the reader refuses the damaged one), names it.",
          code="""
import tfckpt_lab as tl
from tfckpt_lab import tutorial
from tfckpt_lab.checkpoint.verify import verify_checkpoint

mystery = tutorial.mystery_checkpoint()
print(verify_checkpoint(mystery).problems)          # the byte range of the damage
reader = tl.load_checkpoint(mystery)
damaged = []
for name in reader:
    try:
        reader.get_tensor(name)                      # checks the CRC-32C on every read
    except tl.ChecksumMismatchError:
        damaged.append(name)
answer = damaged[0]
""",
          wrong=("layer1/kernel:0", "layer7/kernel", "layer0/bias"))
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


#: Exercise 05-3: where each variable lives when TF1's Saver(sharded=True) saves.
_DEVICES_05_3 = {"kernel": "/cpu:1", "bias": "/cpu:1", "embedding": "/cpu:0"}  # in program order


def tf_sharded_layout(devices: dict) -> dict:
    """``name -> (shard, offset)`` for float32 [3] variables saved by ``Saver(sharded=True)``.

    TensorFlow's rule (``Saver._GroupByDevices``; fixture ``tf1_sharded``): one shard per
    device, the devices sorted by name; inside a shard the variables sorted by name.
    """
    import numpy as np

    from ..bundle.reader import BundleReader
    from ..bundle.writer import write_bundle

    order = sorted(set(devices.values()))
    with _Scratch() as d:
        prefix = write_bundle(os.path.join(d, "model"),
                              {name: np.zeros(3, np.float32) for name in sorted(devices)},
                              num_shards=len(order), shard_of=lambda name, i: order.index(devices[name]))
        with BundleReader(prefix) as r:
            return {name: (r.entry(name).shard_id, r.entry(name).offset) for name in devices}


@register("05-3",
          "A TF1 program creates three float32 variables of shape [3], in this order: kernel and bias on "
          "'/cpu:1', then embedding on '/cpu:0', and saves them with tf.compat.v1.train.Saver(sharded=True). "
          "In which shard is kernel, and at which byte offset of that shard? Answer (shard, offset).",
          "TensorFlow writes one shard per device, numbering the devices in sorted order; inside each shard "
          "the variables are sorted by name, back to back.",
          lambda: tf_sharded_layout(_DEVICES_05_3)["kernel"],
          solution="Devices sorted: '/cpu:0' is shard 0, '/cpu:1' is shard 1, so kernel is in shard 1. "
                   "Inside shard 1 the variables are sorted by name: bias (12 bytes) first, then kernel at "
                   "byte 12. The order the program created them in plays no part.",
          code="""
devices = {"kernel": "/cpu:1", "bias": "/cpu:1", "embedding": "/cpu:0"}
shards = sorted(set(devices.values()))                    # ['/cpu:0', '/cpu:1']
shard = shards.index(devices["kernel"])
before = [n for n in sorted(devices) if devices[n] == devices["kernel"] and n < "kernel"]
answer = (shard, 4 * 3 * len(before))                     # float32 [3] = 12 bytes each
""",
          wrong=((0, 0), (1, 0), (0, 12), (2, 0)))
def _05_3(answer):
    layout = tf_sharded_layout(_DEVICES_05_3)
    want = layout["kernel"]
    got = _pair(answer)
    if got == want:
        return True, ("devices sorted: /cpu:0 -> shard 0, /cpu:1 -> shard 1; inside shard 1 bias sorts "
                      "before kernel, so kernel starts after bias's 12 bytes.")
    if got == (0, 0):
        return False, ("that is where round-robin in program order would put it (what write_bundle's "
                       "num_shards does by default). TensorFlow groups variables by device instead.")
    if got[0] == want[0]:
        return False, ("right shard. Inside a shard TensorFlow sorts the variables by name; which one "
                       "comes before kernel?")
    if got[1] == want[1]:
        return False, "right offset, wrong shard: the shards follow the device names in sorted order."
    return False, f"{got} is not it. One shard per device, devices sorted; names sorted inside a shard."


# -- 06: restoring ------------------------------------------------------------------


@register("06-1",
          "A directory's 'checkpoint' file says model_checkpoint_path: \"model-300\" but model-300.index "
          "was deleted by hand. What does latest_checkpoint(directory) return?",
          "latest_checkpoint only returns a prefix whose files exist.",
          lambda: None,
          solution="latest_checkpoint reads model_checkpoint_path, checks that its files exist, and returns "
                   "None when they do not; it does not go looking for an older checkpoint in the list.",
          code="""
import os, tempfile
import numpy as np
import tfckpt_lab as tl

folder = tempfile.mkdtemp()
saver = tl.Saver()
for step in (100, 200, 300):
    saver.save({"w": np.zeros(1, np.float32)}, os.path.join(folder, "model"), global_step=step)
os.remove(os.path.join(folder, "model-300.index"))
answer = tl.latest_checkpoint(folder)
""",
          wrong=("model-200", "model-100", "model-300"))
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


def _w2_3_bytes(prefix) -> tuple[int, int]:
    from ..checkpoint.reader import load_checkpoint

    with load_checkpoint(prefix) as r:
        e = r.entry("w2")
        item = e.size // max(1, math.prod(e.shape))
        return e.offset + 3 * item, e.offset + 4 * item


def _demo_w2_3_bytes() -> tuple[int, int]:
    from ..demo import make_demo_checkpoint

    with _Scratch() as d:
        return _w2_3_bytes(make_demo_checkpoint(d))


@register("06-2",
          "A restore reads a tensor's bytes at the offset its index entry gives. In the demo checkpoint's "
          "data file, which bytes hold w2[3]? Answer (start, end) as Python slice bounds.",
          "Take w2's offset from its entry, then skip the elements before [3]: each float32 is 4 bytes.",
          lambda: _demo_w2_3_bytes(),
          solution="w2's entry says offset 8 (w1's two float32s come first). Elements 0, 1 and 2 take 12 "
                   "bytes, so w2[3] is bytes 20 up to 24; np.frombuffer(raw[20:24], '<f4') is its value.",
          code="""
from pathlib import Path
import numpy as np
import tfckpt_lab as tl
from tfckpt_lab import tutorial

prefix = tutorial.demo_checkpoint()
with tl.load_checkpoint(prefix) as reader:
    start = reader.entry("w2").offset + 3 * 4          # skip w2[0], w2[1], w2[2]: 4 bytes each
    print(reader["w2"][3])
raw = Path(prefix + ".data-00000-of-00001").read_bytes()
print(np.frombuffer(raw[start:start + 4], "<f4"))      # the same number, straight from the bytes
answer = (start, start + 4)
""",
          wrong=((12, 16), (3, 4), (16, 20), (20, 23), (8, 28)))
def _06_2(answer):
    want = _demo_w2_3_bytes()
    got = _pair(answer)
    if got == want:
        return True, ("w2 starts at byte 8 and each element is 4 bytes, so element 3 is bytes 20..23; "
                      "a reader (TensorFlow's too) finds every value this way.")
    if got == (want[0] - 8, want[1] - 8):
        return False, "that is where w2[3] sits inside w2; the file starts with w1's 8 bytes."
    if got == (3, 4):
        return False, "those are element positions; the question asks for byte positions."
    if got[1] - got[0] != 4:
        return False, f"a float32 takes 4 bytes; ({got[0]}, {got[1]}) covers {got[1] - got[0]}."
    return False, f"{got} is not it. w2's offset is reader.entry('w2').offset; add 3 elements of 4 bytes."


@register("06-3",
          "In a TF2 object-based checkpoint, the key of a variable is built from the path of names from "
          "the root object. What is the key of the value of variable 'v' held by an object stored as "
          "'dense' on the root?",
          "Keys look like PATH/.ATTRIBUTES/VARIABLE_VALUE.",
          "dense/v/.ATTRIBUTES/VARIABLE_VALUE",
          solution="The path from the root is dense, then v; a variable's value is its attribute "
                   "VARIABLE_VALUE, so the key is the path, '/.ATTRIBUTES/', and the attribute name.",
          code="""
import os, tempfile
import numpy as np
import tfckpt_lab as tl

prefix = tl.write_object_checkpoint(os.path.join(tempfile.mkdtemp(), "ckpt"), {"dense": {"v": np.zeros(2)}})
answer = tl.read_object_graph(prefix).key("dense/v")
""",
          wrong=("dense/v", "v", "v/.ATTRIBUTES/VARIABLE_VALUE", "dense/v:0"))
def _06_3(answer):
    a = str(answer).strip()
    want = "dense/v/.ATTRIBUTES/VARIABLE_VALUE"
    if a == want:
        return True, "the path root -> 'dense' -> 'v', then the attribute name of a variable's value."
    if a.endswith("VARIABLE_VALUE") and "dense" not in a:
        return False, "the path must start from the root object's child, 'dense'."
    if a in ("dense/v", "v", "dense/v:0"):
        return False, "that is the path; a key also says which attribute of the object it holds."
    return False, f"{a!r} is not it. Compare with the keys in the object-graph section."


def _max_to_keep_in_meta() -> int:
    """max_to_keep as the SaverDef in a .meta written by Saver(max_to_keep=2) stores it."""
    import numpy as np

    from ..checkpoint.saver import Saver
    from ..checkpoint.meta_graph import read_meta_graph

    with _Scratch() as d:
        prefix = Saver(max_to_keep=2).save({"w1": np.zeros(2, np.float32)}, os.path.join(d, "m"), global_step=1)
        return read_meta_graph(prefix + ".meta").saver_def.max_to_keep


@register("06-4",
          "run/my_test_model-3000.meta was written by Saver(max_to_keep=2). A new program calls "
          "saver = tf.compat.v1.train.import_meta_graph('run/my_test_model-3000.meta'), restores, and then "
          "saves five more times with that saver (steps 4000 to 8000). How many of those five new "
          "checkpoints are still on disk at the end?",
          "import_meta_graph builds its Saver from the SaverDef stored in the .meta. What does a SaverDef "
          "remember besides op names? (read_meta_graph(...).saver_def shows it.)",
          _max_to_keep_in_meta,
          solution="The Saver that import_meta_graph returns is built from the stored SaverDef, which "
                   "remembers max_to_keep: 2 (not the default 5). It rotates among its own saves, so of "
                   "the five new checkpoints the newest two remain (and the old ones, which it never "
                   "knew about, stay too).",
          code="""
import tfckpt_lab as tl
from tfckpt_lab import tutorial
import os, tempfile, numpy as np

prefix = tl.Saver(max_to_keep=2).save({"w1": np.zeros(2, np.float32)},
                                      os.path.join(tempfile.mkdtemp(), "my_test_model"), global_step=3000)
saver_def = tl.read_meta_graph(prefix + ".meta").saver_def
print(saver_def)
answer = min(5, saver_def.max_to_keep)    # the imported Saver keeps the newest max_to_keep of its saves
""",
          wrong=(5, 0, 7, 3))
def _06_4(answer):
    want = min(5, _max_to_keep_in_meta())
    n = _int(answer)
    if n == want:
        return True, ("the SaverDef in the .meta remembers max_to_keep=2, so the imported Saver rotates "
                      "like the old one: the newest two of its saves remain.")
    if n == 5:
        return False, ("5 would be right for a Saver with the default max_to_keep=5. The imported Saver is "
                       "built from the SaverDef in the .meta: what max_to_keep does it hold?")
    if n in (4, 7):
        return False, ("the old checkpoints stay (the new Saver never knew them), but the question counts "
                       "only the five new ones.")
    return False, f"{n} is not it. Look at read_meta_graph(prefix).saver_def.max_to_keep."


#: Facts about TF2 restore status, checked against TensorFlow 2.21 (docs/teaching.md, tests/test_tutorial_tf_facts.py).
STATUS_CHECKPOINT_HAS_MORE = {"assert_consumed": True, "assert_existing_objects_matched": False,
                              "assert_nontrivial_match": False}


@register("06-5",
          "A checkpoint holds net/kernel and net/bias. Your new program builds tf.train.Checkpoint(net=net) "
          "where net has only a kernel, and restores. Which of status.assert_consumed() and "
          "status.assert_existing_objects_matched() raise an AssertionError? Answer with a set of names "
          "(an empty set if neither).",
          "One asks 'did every value in the checkpoint find an object?', the other 'did every object of my "
          "program that the checkpoint knows get its value?'.",
          {"assert_consumed"},
          solution="assert_consumed() raises: the bias value in the checkpoint was not used by any object. "
                   "assert_existing_objects_matched() passes: every object the program has (net, its kernel) "
                   "got its value. When loading only part on purpose, call status.expect_partial() to "
                   "silence the warnings about unused values.",
          code="""
answer = {name for name, raises in {"assert_consumed": True,
                                    "assert_existing_objects_matched": False}.items() if raises}
""",
          wrong=(set(), {"assert_existing_objects_matched"}, {"assert_consumed", "assert_existing_objects_matched"}))
def _06_5(answer):
    names = {w.rstrip("()") for w in _items(answer)}
    known = {"assert_consumed", "assert_existing_objects_matched"}
    if names - known:
        return False, f"{sorted(names - known)}: answer with names from {sorted(known)}."
    want = {k for k in known if STATUS_CHECKPOINT_HAS_MORE[k]}
    if names == want:
        return True, ("only assert_consumed() fails: net/bias in the checkpoint found no object. Every "
                      "object the program has did get a value. status.expect_partial() says you meant it.")
    if names == known:
        return False, ("assert_existing_objects_matched() only looks at the objects your program has; "
                       "did net and its kernel get their values?")
    if not names:
        return False, "one of them does complain: is every value in the checkpoint used?"
    return False, ("assert_existing_objects_matched() is satisfied here; the unused value is what one of "
                   "the two checks for.")


@register("06-6",
          "A TF2 program restored fine from its checkpoint. Then you change one line. Which change makes "
          "every value silently stay unrestored after restore()? "
          "(a) net = Model() -> model = Model() (the Python variable holding it); "
          "(b) tf.train.Checkpoint(net=net) -> tf.train.Checkpoint(model=net); "
          "(c) tf.Variable(k, name='w') -> tf.Variable(k, name='kernel_w') inside the model. "
          "Answer 'a', 'b', 'c', or a combination such as 'a, c'.",
          "A TF2 checkpoint key is PATH/.ATTRIBUTES/VARIABLE_VALUE. Which of the three names end up in PATH?",
          "b",
          solution="The path starts at the Checkpoint object and follows attribute names: the keyword you pass "
                   "(net=...) is its first element, so renaming it (b) moves every key from net/... to "
                   "model/..., and nothing matches; restore() does not raise, and only the status "
                   "(assert_consumed()) tells you. The Python variable's name (a) is never seen by "
                   "TensorFlow, and object-based restore does not use tf.Variable(name=...) (c).",
          code="""
import os, tempfile
import numpy as np
import tfckpt_lab as tl

prefix = tl.write_object_checkpoint(os.path.join(tempfile.mkdtemp(), "ckpt"), {"net": {"kernel": np.ones(2)}})
print([k for k, _ in tl.list_variables(prefix)])   # 'net' is in every key; no variable name is stored
answer = "b"
""",
          wrong=("a", "c", "a, c", "b, c", "a, b, c"))
def _06_6(answer):
    picked = {w.strip().strip("()'\"").lower() for w in str(answer).replace(" and ", ",").split(",") if w.strip()}
    if not picked or picked - {"a", "b", "c"}:
        return False, "answer 'a', 'b', 'c', or a combination such as 'a, c'."
    if picked == {"b"}:
        return True, ("the Checkpoint's keyword is the first element of every path (net/kernel/... becomes "
                      "model/kernel/...); restore() stays silent and assert_consumed() is what catches it.")
    if "c" in picked:
        return False, ("object-based restore never looks at tf.Variable(name=...): list the keys of a TF2 "
                       "checkpoint and you will not find it. (TF1 name-based checkpoints do match on it.)")
    if "a" in picked:
        return False, ("TensorFlow never sees the name of your Python variable; it only sees the objects and "
                       "the attribute and keyword names leading to them.")
    return False, "which of the three names appear in a key such as net/kernel/.ATTRIBUTES/VARIABLE_VALUE?"


# -- 07: a real Keras checkpoint ---------------------------------------------------


@register("07-1",
          "How many trainable numbers (parameters) does the shipped Keras model have?",
          "Add up the sizes of the kernels and biases (not the optimizer's variables).",
          67,
          solution="The kernels are [4, 8] and [8, 3], the biases [8] and [3]: 32 + 8 + 24 + 3 = 67.",
          code="""
import numpy as np
import tfckpt_lab as tl
from tfckpt_lab import tutorial

prefix = str(tutorial.data_path("keras_adam") / "ckpt")
graph = tl.read_object_graph(prefix)
shapes = tl.load_checkpoint(prefix).get_variable_to_shape_map()
answer = sum(int(np.prod(shapes[graph.key(f"optimizer/_trainable_variables/{i}")])) for i in range(4))
""",
          wrong=(201, 56, 4))
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


def _adam_moment_bytes() -> int:
    from ..checkpoint.reader import load_checkpoint
    from ..checkpoint.object_graph import read_object_graph
    from . import data_path

    prefix = str(data_path("keras_adam") / "ckpt")
    graph = read_object_graph(prefix)
    with load_checkpoint(prefix) as r:
        return sum(r.entry(graph.key(f"optimizer/{which}/{i}")).size
                   for which in ("_momentums", "_velocities") for i in range(4))


@register("07-2",
          "How many bytes of the Keras checkpoint's data file hold Adam's two moment estimates (m and v "
          "for every weight)?",
          "Adam keeps one m and one v of the same shape as each weight; each is float32. The object graph "
          "says which keys they are (optimizer/_momentums/i, optimizer/_velocities/i).",
          _adam_moment_bytes,
          solution="m and v each have one float32 per parameter: 2 x 67 x 4 = 536 bytes. Adding the entries' "
                   "sizes gives the same; the weights themselves take another 268.",
          code="""
import tfckpt_lab as tl
from tfckpt_lab import tutorial

prefix = str(tutorial.data_path("keras_adam") / "ckpt")
graph, reader = tl.read_object_graph(prefix), tl.load_checkpoint(prefix)
answer = sum(reader.entry(graph.key(f"optimizer/{which}/{i}")).size
             for which in ("_momentums", "_velocities") for i in range(4))
""",
          wrong=(268, 804, 134, 67))
def _07_2(answer):
    want = _adam_moment_bytes()
    n = _int(answer)
    if n == want:
        return True, ("two float32s per parameter (m and v), 2 x 67 x 4. For a big model that is twice the "
                      "weights again, which is why a training checkpoint is about three times the model.")
    if n == want // 2:
        return False, "that is one moment (or the weights); Adam keeps two per parameter, m and v."
    if n == want // 2 * 3:
        return False, "that includes the weights; the question asks for the moments only."
    if n == want // 4:
        return False, "that counts numbers; each float32 takes 4 bytes."
    return False, f"{n} is not it. Add reader.entry(key).size over the 8 moment tensors."


@register("07-3",
          "In the tf_keras checkpoint (legacy Adam), what is the key of the first moment ('m') of the "
          "output layer's kernel?",
          "Slot variables hang off the variable they belong to, under .OPTIMIZER_SLOT/optimizer/<slot name>.",
          "model/layer_with_weights-1/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE",
          solution="The output layer is the second layer with weights (layer_with_weights-1); its kernel's "
                   "slot 'm' hangs off the kernel's path, followed by .OPTIMIZER_SLOT, the optimizer's path "
                   "and the slot name.",
          code="""
import tfckpt_lab as tl
from tfckpt_lab import tutorial

keys = [k for k, _ in tl.list_variables(str(tutorial.data_path("tf_keras_adam") / "ckpt"))]
answer = next(k for k in keys if k.startswith("model/layer_with_weights-1/kernel/") and "/m/" in k)
""",
          wrong=("model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE",
                 "model/layer_with_weights-1/kernel/.OPTIMIZER_SLOT/optimizer/v/.ATTRIBUTES/VARIABLE_VALUE",
                 "model/layer_with_weights-1/bias/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE",
                 "out/kernel/m"))
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


# -- 08: checkpoints in TensorFlow 2 today -------------------------------------------


_FILES_08_1 = ("model.keras", "model.weights.h5", "exported/variables/variables", "run/ckpt-3")


@register("08-1",
          "Which of these can tl.load_checkpoint (like tf.train.load_checkpoint) open: 'model.keras', "
          "'model.weights.h5', 'exported/variables/variables' (inside a SavedModel), 'run/ckpt-3' (from a "
          "CheckpointManager)? Answer with a set.",
          "A checkpoint reader opens tensor bundles: a prefix with a .index and .data shards. Which of these "
          "are bundles, and which are zip or HDF5 files?",
          {"exported/variables/variables", "run/ckpt-3"},
          solution="A SavedModel's variables/ folder holds an ordinary bundle (prefix variables/variables), and "
                   "a manager's ckpt-3 is one too. Keras 3's .keras file is a zip (config.json, metadata.json, "
                   "model.weights.h5) and .weights.h5 is HDF5: neither is a checkpoint bundle.",
          code="""
answer = {"exported/variables/variables", "run/ckpt-3"}
""",
          wrong=({"run/ckpt-3"}, {"model.keras", "run/ckpt-3"}, set(_FILES_08_1),
                 {"model.weights.h5", "run/ckpt-3", "exported/variables/variables"}))
def _08_1(answer):
    names = set(_items(answer))
    unknown = names - set(_FILES_08_1)
    if unknown:
        return False, f"{sorted(unknown)}: answer with names from {list(_FILES_08_1)}."
    want = {"exported/variables/variables", "run/ckpt-3"}
    if names == want:
        return True, ("both are bundles (.index + .data shards). .keras is a zip and .weights.h5 is HDF5; "
                      "Keras 3 reads those itself.")
    if "model.keras" in names or "model.weights.h5" in names:
        return False, ("look at the first bytes of a .keras file (PK: a zip) and of a .weights.h5 file "
                       "(\\x89HDF): neither is a bundle.")
    if "exported/variables/variables" not in names:
        return False, "a SavedModel keeps its values in variables/: open variables/variables.index and see."
    return False, "a manager's ckpt-N is an ordinary bundle too."


@register("08-2",
          "You move a TF1 name-based checkpoint (key 'dense/kernel') to TF2. The new program restores with "
          "tf.train.Checkpoint(model=net), and the value belongs in net.layer.w. Under which key must the "
          "converted checkpoint store it?",
          "A TF2 key is the attribute path from the Checkpoint object, then /.ATTRIBUTES/VARIABLE_VALUE.",
          "model/layer/w/.ATTRIBUTES/VARIABLE_VALUE",
          solution="From the root Checkpoint the path is model -> layer -> w; the old name 'dense/kernel' plays "
                   "no part. write_object_checkpoint({'model': {'layer': {'w': value}}}) writes exactly that "
                   "key, plus the object graph.",
          code="""
import os, tempfile
import numpy as np
import tfckpt_lab as tl

prefix = tl.write_object_checkpoint(os.path.join(tempfile.mkdtemp(), "ckpt"),
                                    {"model": {"layer": {"w": np.zeros((2, 2), np.float32)}}})
answer = tl.read_object_graph(prefix).key("model/layer/w")
""",
          wrong=("dense/kernel", "model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE",
                 "net/layer/w/.ATTRIBUTES/VARIABLE_VALUE", "layer/w/.ATTRIBUTES/VARIABLE_VALUE", "model/layer/w"))
def _08_2(answer):
    import numpy as np

    from ..checkpoint.object_writer import build_object_graph

    _, tensors = build_object_graph({"model": {"layer": {"w": np.zeros(1, np.float32)}}})
    (want,) = tensors
    a = str(answer).strip()
    if a == want:
        return True, "the path of attribute names from the Checkpoint object, then the value's attribute."
    if a.startswith("net/"):
        return False, ("'net' is your Python variable's name; the Checkpoint knows the object as 'model' "
                       "(the keyword you passed).")
    if "dense" in a:
        return False, "the TF1 name is gone in TF2: the key comes from where the value sits in the new program."
    if a == "model/layer/w":
        return False, "that is the path; a key also says which attribute of the object it holds."
    if a.startswith("layer/"):
        return False, "start from the Checkpoint object: its child is 'model'."
    return False, f"{a!r} is not it. Keys look like PATH/.ATTRIBUTES/VARIABLE_VALUE."


@register("08-3",
          "A training loop saves with a manager every 10 steps (after steps 10, 20, 30, ...) and the machine "
          "dies during step 37. The restarted program calls manager.restore_or_initialize(). How many "
          "finished steps of work are lost?",
          "restore_or_initialize() brings back the latest checkpoint. Which step was that, and which steps "
          "had finished when the machine died?",
          6,
          solution="The latest checkpoint is from step 30. Steps 31 to 36 had finished and are lost (step 37 "
                   "never finished): 6 steps. Saving more often loses less, and costs more writing.",
          code="""
saved = [s for s in range(1, 37) if s % 10 == 0]    # checkpoints written before the crash
finished = 36                                       # step 37 was still running
answer = finished - saved[-1]
""",
          wrong=(7, 3, 0, 37, 30))
def _08_3(answer):
    n = _int(answer)
    last_save = max(s for s in range(1, 37) if s % 10 == 0)
    want = 36 - last_save
    if n == want:
        return True, f"the restore goes back to step {last_save}; steps {last_save + 1}..36 are done again."
    if n == want + 1:
        return False, "step 37 was still running when the machine died; count only the finished steps."
    if n == 3:
        return False, "that is how far the next save was; the question asks what the restore throws away."
    if n in (0, 37, 30):
        return False, "restore_or_initialize() goes back to the latest checkpoint, not to the start or the crash."
    return False, f"{n} is not it. Latest checkpoint: after step 30. Last finished step: 36."
