"""Notebook manners: the main objects show themselves as compact HTML, with names escaped."""

from __future__ import annotations

import numpy as np

import tfckpt_lab as tl
from conftest import TF_FIXTURES
from tfckpt_lab.checkpoint.verify import verify_checkpoint


def test_entry_state_report_and_object_graph_render_html(tmp_path):
    reader = tl.load_checkpoint(TF_FIXTURES / "tf2_checkpoint")
    name = next(iter(reader.keys()))
    assert name.split("/")[0] in reader.entry(name)._repr_html_()
    state = tl.get_checkpoint_state(TF_FIXTURES / "tf2_checkpoint")
    html = state._repr_html_()
    assert "ckpt-3" in html and "latest" in html and "UTC" in html
    og = tl.read_object_graph(TF_FIXTURES / "tf2_checkpoint")
    assert "<pre" in og._repr_html_() and "model" in og._repr_html_()
    prefix = tmp_path / "m<b>"
    tl.write_bundle(prefix, {"<x>": np.arange(3.0)})
    report = verify_checkpoint(prefix)
    assert "OK" in report._repr_html_() and "&lt;b&gt;" in report._repr_html_()
    data = tmp_path / "m<b>.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[0] ^= 1
    data.write_bytes(bytes(raw))
    bad = verify_checkpoint(prefix)._repr_html_()
    assert "problem" in bad and "ChecksumMismatchError" in bad
    assert "<x>" not in tl.load_checkpoint(prefix).entry("<x>")._repr_html_()
