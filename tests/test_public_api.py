"""The public surface: a dozen verbs and the errors at the top, everything else one documented level down."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tfckpt_lab as tl
from tfckpt_lab import errors, lowlevel

VERBS = {"load_checkpoint", "list_variables", "load_variable", "latest_checkpoint", "get_checkpoint_state",
         "read_meta_graph", "read_object_graph", "write_bundle", "write_object_checkpoint", "Saver",
         "CheckpointManager", "verify_checkpoint", "layout", "explore", "export", "import_tensors", "compare"}


def test_the_top_is_the_verbs_the_errors_and_three_namespaces():
    errors_exported = {n for n in tl.__all__ if n.endswith("Error")}
    assert errors_exported == {n for n in errors.__all__ if n.endswith("Error")}
    assert set(tl.__all__) == VERBS | errors_exported | {"lowlevel", "plots", "widgets", "tutorial", "__version__"}
    assert sorted(dir(tl)) == sorted(tl.__all__)


@pytest.mark.parametrize("name", sorted(VERBS - {"explore"}))
def test_every_verb_resolves_and_has_an_example_or_a_docstring(name):
    obj = getattr(tl, name)
    assert callable(obj) and obj.__doc__ and len(obj.__doc__) > 40


@pytest.mark.parametrize("name", lowlevel.__all__)
def test_every_lowlevel_name_resolves(name):
    assert getattr(lowlevel, name) is not None
    assert getattr(tl, name) is getattr(lowlevel, name)  # names that used to be top-level still work


def test_lowlevel_is_the_same_objects_as_the_deep_paths():
    from tfckpt_lab.bundle.reader import BundleReader
    from tfckpt_lab.codecs import decode_varint

    assert lowlevel.BundleReader is BundleReader and lowlevel.decode_varint is decode_varint
    assert tl.lowlevel.decode_varint(b"\xac\x02") == (300, 2)
    with pytest.raises(AttributeError):
        tl.no_such_name  # noqa: B018


def test_namespaces_and_verbs_cost_nothing_until_used():
    code = ("import sys, tfckpt_lab as tl; tl.lowlevel; "
            "print(sorted(m for m in sys.modules if m.startswith(('tfckpt_lab.', 'google.protobuf', 'matplotlib'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['tfckpt_lab._version', 'tfckpt_lab.lowlevel']"  # _version: one string


def test_ml_dtypes_is_imported_only_for_its_types(tmp_path):
    """ml_dtypes 0.7 takes most of a second to import: a float32-only checkpoint never pays for it."""
    code = ("import sys, numpy as np, tfckpt_lab as tl\n"
            "p = sys.argv[1]\n"
            "tl.write_bundle(p, {'w': np.arange(6, dtype=np.float32).reshape(2, 3), 's': b'x'})\n"
            "r = tl.load_checkpoint(p)\n"
            "assert r.get_tensor('w').sum() == 15 and tl.verify_checkpoint(p).ok\n"
            "assert r.get_variable_to_dtype_map()['w'] == 'float32', r.get_variable_to_dtype_map()\n"
            "print('ml_dtypes' in sys.modules)\n"
            "import ml_dtypes\n"
            "tl.write_bundle(p + 'b', {'b': np.array([1.5, np.nan], ml_dtypes.bfloat16)})\n"
            "v = tl.load_checkpoint(p + 'b').get_tensor('b')\n"
            "print(v.dtype, v.view(np.uint16).tolist())\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m")], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == "False"
    import ml_dtypes
    import numpy as np

    assert out[1] == f"bfloat16 {np.array([1.5, np.nan], ml_dtypes.bfloat16).view(np.uint16).tolist()}"
