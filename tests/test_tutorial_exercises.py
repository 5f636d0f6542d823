"""The exercise checker: no answer given away unasked, right answers accepted, known wrong ones refused,
and every worked solution's code finds an answer its checker accepts."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

from tfckpt_lab import tutorial
from tfckpt_lab.tutorial import exercises

ROOT = Path(__file__).resolve().parent.parent
IDS = sorted(tutorial.EXERCISES)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in an empty folder; tempfile.mkdtemp() and tutorial.workdir() write under it too."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv(tutorial.WORKDIR_ENV, raising=False)
    return tmp_path


def _text(x) -> str:
    return repr(x) + (x._repr_html_() if hasattr(x, "_repr_html_") else "")


@pytest.mark.parametrize("exercise_id", IDS)
def test_an_unanswered_cell_gives_nothing_away(exercise_id):
    """`tutorial.check(ID, ...)`, the cell as shipped, shows neither the hint nor the answer nor the solution."""
    ex = tutorial.EXERCISES[exercise_id]
    fb = tutorial.check(exercise_id, ...)
    shown = _text(fb)
    assert not fb.ok
    assert ex.hint not in shown and ex.hint[:40] not in shown
    assert ex.explanation[:40] not in shown
    ref = ex.reference_answer()
    if ref is not None and not isinstance(ref, (set, dict, list, tuple)):
        assert not re.search(rf"(?<![\w-]){re.escape(str(ref))}(?![\w-])", fb.message.replace(exercise_id, ""))
    assert f'tutorial.hint("{exercise_id}")' in fb.message and f'tutorial.solution("{exercise_id}")' in fb.message


@pytest.mark.parametrize("exercise_id", IDS)
def test_hint_and_solution_come_on_demand(exercise_id):
    ex = tutorial.EXERCISES[exercise_id]
    h = tutorial.hint(exercise_id)
    assert h.kind == "hint" and ex.hint in repr(h) and ex.hint.split(".")[0] in h._repr_html_().replace("&#x27;", "'")
    s = tutorial.solution(exercise_id)
    assert s.kind == "solution" and ex.explanation in repr(s) or ex.explanation in str(s)
    assert "answer =" in s.code and "answer =" in str(s)
    assert ex.hint != ex.explanation


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_reference_answer_is_accepted(exercise_id, in_tmp):
    ex = tutorial.EXERCISES[exercise_id]
    fb = tutorial.check(exercise_id, ex.reference_answer())
    assert fb.ok, fb
    assert "right" in repr(fb)


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_worked_solution_finds_an_accepted_answer(exercise_id, in_tmp):
    """Run each solution's code on its own, as a learner would paste it; its `answer` must be right."""
    ex = tutorial.EXERCISES[exercise_id]
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(ex.code, f"<solution {exercise_id}>", "exec"), namespace)
    assert "answer" in namespace, f"{exercise_id}: the solution's code sets no `answer`"
    fb = tutorial.check(exercise_id, namespace["answer"])
    assert fb.ok, f"{exercise_id}: the worked solution's answer {namespace['answer']!r} is refused: {fb}"


WRONG = [(i, w) for i in IDS for w in tutorial.EXERCISES[i].wrong]


@pytest.mark.parametrize("exercise_id, answer", WRONG, ids=[f"{i}-{w!r:.30}" for i, w in WRONG])
def test_known_wrong_answers_are_refused(exercise_id, answer, in_tmp):
    fb = tutorial.check(exercise_id, answer)
    assert not fb.ok, f"{exercise_id} accepted the wrong answer {answer!r}"
    assert fb.message and "not yet" in repr(fb)


def test_every_exercise_lists_wrong_answers():
    assert all(tutorial.EXERCISES[i].wrong for i in IDS), [i for i in IDS if not tutorial.EXERCISES[i].wrong]


@pytest.mark.parametrize("exercise_id, answer, says", [
    # 01-1: only the four kinds are kinds; "database" is not "data"
    ("01-1", {"index", "database"}, "not one of the four kinds"),
    ("01-1", {".index", ".data-00000-of-00001"}, "the .index says where"),
    ("01-1", "index, data shards", "the .index says where"),
    # 04-1: the bytes themselves are an answer, so is their hex; the integer is not
    ("04-1", b"\x57\xfb\x80\x8b\x24\x75\x47\xdb", "little-endian"),
    ("04-1", bytearray(b"\x57\xfb\x80\x8b\x24\x75\x47\xdb"), "right"),
    ("04-1", "57 fb 80 8b 24 75 47 db", "right"),
    ("04-1", 0xDB4775248B80FB57, "as an integer"),
    ("04-1", b"\xdb\x47\x75\x24\x8b\x80\xfb\x57", "wrong byte order"),
    # 03-1, 03-2: steps typed as text; the two rules swapped
    ("03-1", "800, 900, 1000", "right"),
    ("03-1", 1000, "list of step numbers"),
    ("03-2", {"saver": "300 500 800 900 1000", "manager": [300, 600, 800, 900, 1000]}, "right"),
    ("03-2", {"saver": [300, 600, 800, 900, 1000], "manager": [300, 500, 800, 900, 1000]}, "swapped"),
    ("03-2", {"saver": [300, 500, 800, 900, 1000], "manager": [300, 500, 800, 900, 1000]}, "the Saver is right"),
    ("03-2", [300, 600, 800, 900, 1000], "dict"),
    ("03-4", ["ckpt-4", "ckpt-5", "ckpt-6"], "restore_or_initialize"),
    ("03-4", ["ckpt-1", "ckpt-4", "ckpt-5"], "newest save comes last"),
    ("03-4", ["d/ckpt-4", "d/ckpt-5", "d/ckpt-1"], "right"),
    ("05-2", "layer1/kernel:0", "no ':0'"),
    ("05-2", "layer7/kernel", "not a tensor of the mystery checkpoint"),
    ("05-2", "layer0/bias", "reads back without complaint"),
    ("05-3", (0, 0), "round-robin"),
    ("05-3", "(1, 0)", "sorts the variables by name"),
    ("05-3", "1, 12", "right"),
    ("06-2", (12, 16), "w1's 8 bytes"),
    ("06-2", "20:24", "right"),
    ("06-4", 5, "default max_to_keep=5"),
    ("06-5", {"assert_consumed", "assert_existing_objects_matched"}, "only looks at the objects"),
    ("06-5", "assert_consumed()", "right"),
    ("06-6", "c", "never looks at tf.Variable(name=...)"),
    ("06-6", "a", "never sees the name of your Python variable"),
    ("04-3", 2, "leaves out the first entry"),
    ("07-2", 804, "includes the weights"),
    ("08-1", {"model.keras", "run/ckpt-3"}, "PK"),
    ("08-2", "net/layer/w/.ATTRIBUTES/VARIABLE_VALUE", "keyword you passed"),
    ("08-3", 7, "still running"),
])
def test_feedback_for_near_misses(exercise_id, answer, says, in_tmp):
    assert says in repr(tutorial.check(exercise_id, answer))


def test_an_answer_of_the_wrong_form_is_explained_not_raised():
    fb = tutorial.check("02-1", "fifty-six")
    assert not fb.ok and "unexpected form" in fb.message and "float64" in fb.message


def test_checkers_leave_no_files_behind(in_tmp):
    before = sorted(os.listdir(in_tmp))
    for exercise_id in IDS:
        if exercise_id in ("04-3",):  # the demo checkpoint is made in ./work/demo on purpose, as a notebook would
            continue
        tutorial.check(exercise_id, tutorial.EXERCISES[exercise_id].reference_answer())
    assert sorted(os.listdir(in_tmp)) == before


def test_03_2_is_asked_at_a_pace_where_the_two_rules_differ():
    """The model the checker uses must tell TF1 from TF2 here, and agree with the library's real savers
    (which replay TensorFlow's recorded save sequences, tests/test_saver_sequences.py)."""
    pytest.importorskip("ipywidgets")
    from tfckpt_lab.widgets import RotationSimulator

    want = tutorial.EXERCISES["03-2"].reference_answer()
    assert want["saver"] != want["manager"]
    pace = exercises._PACE_03_2 / 60
    for mode, rule in (("Saver", "saver"), ("CheckpointManager", "manager")):
        sim = RotationSimulator(mode=mode, max_to_keep=3, keep_every_n_hours=2, hours_per_save=pace)
        try:
            sim.run(10)
            got = sorted(int(re.sub(r"\D", "", name)) // 10 for name in sim.checkpoints())
        finally:
            sim.close()
        assert got == want[rule], (mode, got)


def test_05_3_rule_matches_what_tensorflow_wrote():
    """The TF1 sharding rule behind 05-3 reproduces the shard and offset of every variable in the
    tf1_sharded fixture (TensorFlow 2.21, Saver(sharded=True) over 3 CPU devices)."""
    case = ROOT / "tests" / "fixtures" / "tf" / "tf1_sharded"
    import tfckpt_lab as tl

    expected = json.loads((case / "expected.json").read_text())
    devices = {name: dev.lower().replace("/device:cpu:", "/cpu:").split("/task:0")[-1]
               for name, dev in expected["variable_devices"].items()}
    layout = exercises.tf_sharded_layout(devices)
    reader = tl.load_checkpoint(str(case / "model-5"))
    for name in devices:
        e = reader.entry(name)
        assert layout[name][0] == e.shard_id, name
        if reader.get_variable_to_dtype_map()[name] == "float32":
            assert layout[name][1] == e.offset, name


def test_the_shipped_exercise_cells_print_no_hints():
    """Every exercise cell in the notebooks is the bare `tutorial.check(ID, ...)`: no hint or solution call."""
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] != "code" or "tutorial.check(" not in src:
                continue
            code_only = "\n".join(line.split("#")[0] for line in src.splitlines())
            assert "tutorial.hint(" not in code_only and "tutorial.solution(" not in code_only, (path.name, src)
            assert re.search(r'tutorial\.check\("\d\d-\d", \.\.\.\)', code_only), (path.name, src)


def test_glossary_entries():
    g = tutorial.glossary("Restart points")
    assert g.terms == ["restart point"] and "16 entries" in repr(g) and "<dl" in g._repr_html_()
    with pytest.raises(KeyError, match="did you mean"):
        tutorial.glossary("restart")
    for term in ("prefix", "bundle", "shard", "SSTable", "restart point", "varint", "block handle", "masked CRC",
                 "trackable", "slot variable"):
        assert term in tutorial.glossary().terms, term
