"""Hostile TF2 object graphs: any depth, any width, linear time and memory.

Before: a 5,000-deep chain raised RecursionError in ``tree()``; a 40,000 chain cost 1.6 GB
(every node's full path string kept); 20,000 missing keys took two minutes (every stored key
scanned for each); 10**6 nodes took 1.7-2.8 GB; slot variables of slot variables doubled their
path at every level until memory ran out.

The walks are checked against a straightforward reference (breadth-first paths built by
string concatenation, a recursive drawing) on random small graphs, then the hostile graphs of
``tests/hostile_cases.py`` run in fresh processes under a time limit, an address-space cap
(so the old code's blow-ups stop early) and a peak-RSS bound.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections import Counter, deque
from pathlib import Path

import numpy as np
import pytest
from hostile_cases import (
    graph_chain,
    graph_duplicate_edges,
    graph_missing_keys,
    graph_slot_doubling,
    graph_wide,
    object_graph_checkpoint,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import tfckpt_lab as tl
from tfckpt_lab.checkpoint import object_graph as og
from tfckpt_lab.protos.trackable_object_graph_pb2 import TrackableObjectGraph

TESTS = Path(__file__).parent


# -- the reference: the obvious algorithms, fine for small graphs -------------------------------------

def _ref_paths(proto) -> dict[int, str]:
    """Breadth first from the root, first edge wins; then slot variables in node order."""
    n = len(proto.nodes)
    paths = {0: ""} if n else {}
    queue = deque([0] if n else [])
    while queue:
        u = queue.popleft()
        for ref in proto.nodes[u].children:
            if ref.node_id not in paths:
                e = og.escape_local_name(ref.local_name)
                paths[ref.node_id] = f"{paths[u]}/{e}" if paths[u] else e
                queue.append(ref.node_id)
    for o, obj in enumerate(proto.nodes):
        for s in obj.slot_variables:
            var, slot = s.original_variable_node_id, s.slot_variable_node_id
            if slot not in paths and var in paths and o in paths:
                paths[slot] = f"{paths[var]}/{og.OPTIMIZER_SLOT}/{paths[o]}/{og.escape_local_name(s.slot_name)}"
    return paths


def _ref_value_paths(proto) -> Counter:
    paths = _ref_paths(proto)
    out = Counter()
    for i, obj in enumerate(proto.nodes):
        base = paths.get(i, f"(node {i})")
        for a in obj.attributes:
            out[(base if a.name == og.VARIABLE_VALUE else (f"{base}/{a.name}" if base else a.name),
                 a.checkpoint_key)] += 1
    return out


def _ref_tree(proto) -> str:
    paths = _ref_paths(proto)
    parent_edge = {}  # the edge that gave each node its path: the first, breadth first
    seen, queue = {0}, deque([0])
    while queue:
        u = queue.popleft()
        for k, ref in enumerate(proto.nodes[u].children):
            if ref.node_id not in seen:
                seen.add(ref.node_id)
                parent_edge[ref.node_id] = (u, k)
                queue.append(ref.node_id)

    def shown(i):
        return repr(paths[i]) if i in paths else f"(node {i})"

    lines = ["(root)"]

    def walk(u, indent):
        obj = proto.nodes[u]
        items = [("child", k, ref) for k, ref in enumerate(obj.children)]
        items += [("attr", a, None) for a in obj.attributes if a.name != og.VARIABLE_VALUE or u == 0]
        items += [("slot", s, None) for s in obj.slot_variables]
        for j, (kind, what, ref) in enumerate(items):
            branch, cont = ("`-- ", "    ") if j == len(items) - 1 else ("|-- ", "|   ")
            if kind == "child":
                values = [a for a in proto.nodes[ref.node_id].attributes if a.name == og.VARIABLE_VALUE]
                if parent_edge.get(ref.node_id) != (u, what):
                    lines.append(f"{indent}{branch}{ref.local_name} -> {shown(ref.node_id)}"
                                 + (f" = {values[0].checkpoint_key}" if values else ""))
                    continue
                lines.append(f"{indent}{branch}{ref.local_name}"
                             + (f" = {values[0].checkpoint_key}" if values else ""))
                walk(ref.node_id, indent + cont)
            elif kind == "attr":
                lines.append(f"{indent}{branch}.{what.name} = {what.checkpoint_key}")
            else:
                keys = ", ".join(a.checkpoint_key for a in proto.nodes[what.slot_variable_node_id].attributes)
                lines.append(f"{indent}{branch}slot {what.slot_name!r} of {shown(what.original_variable_node_id)}: "
                             f"{keys or '(no value)'}")

    if len(proto.nodes):
        walk(0, "")
    return "\n".join(lines)


NAMES = st.sampled_from(["a", "b", "", ".", "/", "x.y", "s/t", ".S", "..", "m"])


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 12))
    proto = TrackableObjectGraph()
    for i in range(n):
        node = proto.nodes.add()
        for name in draw(st.lists(NAMES, max_size=3, unique=True)):
            node.children.add(node_id=draw(st.integers(0, n - 1)), local_name=name)
        for name in draw(st.lists(st.sampled_from([og.VARIABLE_VALUE, "t", "ITERATOR"]), max_size=2)):
            node.attributes.add(name=name, checkpoint_key=f"k{i}{name}")
        for _ in range(draw(st.integers(0, 2))):
            node.slot_variables.add(original_variable_node_id=draw(st.integers(0, n - 1)),
                                    slot_name=draw(st.sampled_from(["m", "v.1", "a/b"])),
                                    slot_variable_node_id=draw(st.integers(0, n - 1)))
    return proto


@given(graphs())
@settings(max_examples=150, deadline=None)
@pytest.mark.slow
def test_walks_match_the_reference_on_random_graphs(proto):
    graph = og.ObjectGraph(proto)
    expected = _ref_paths(proto)
    assert {n.id: n.path for n in graph.nodes} == {i: expected.get(i) for i in range(len(proto.nodes))}
    assert graph.paths() == {p: i for i, p in expected.items()} or len(set(expected.values())) < len(expected)
    listed = list(graph.iter_value_paths())
    assert Counter(listed) == _ref_value_paths(proto)
    assert graph.tree() == _ref_tree(proto)
    unique = Counter(p for p, _ in listed)
    for path, key in listed:
        if unique[path] == 1:
            assert graph.key(path) == key, path
    by_path = Counter(expected.values())
    for i, path in expected.items():
        if by_path[path] == 1:
            assert graph.node(path).id == i, path


def test_leading_and_trailing_empty_names_and_slashes():
    proto = TrackableObjectGraph()
    root = proto.nodes.add()
    root.children.add(node_id=1, local_name="")
    root.children.add(node_id=3, local_name="model")
    proto.nodes.add().children.add(node_id=2, local_name="x")  # "" then "x": the path is "x"
    proto.nodes.add().attributes.add(name=og.VARIABLE_VALUE, checkpoint_key="kx")
    model = proto.nodes.add()
    model.children.add(node_id=4, local_name="")  # a child named "": the path "model/"
    proto.nodes.add().attributes.add(name=og.VARIABLE_VALUE, checkpoint_key="kempty")
    model.attributes.add(name=og.VARIABLE_VALUE, checkpoint_key="kmodel")
    graph = og.ObjectGraph(proto)
    assert [n.path for n in graph.nodes] == ["", "", "x", "model", "model/"]
    assert graph.value_paths() == {"x": "kx", "model": "kmodel", "model/": "kempty"}
    assert graph.key("x") == "kx" and graph.key("model/") == "kempty" and graph.key("/model") == "kmodel"
    assert graph.node("model/").id == 4 and graph.node("/model/").id == 3  # as written, else stripped


# -- hostile graphs in fresh processes -------------------------------------------------------------------

def _run_child(args: list[str], *, timeout: float, address_space_gb: float = 4) -> dict:
    """``tfckpt-lab ARGS`` in a fresh process: exit code, output lines/bytes/last line, seconds, peak RSS (MB)."""
    def limits():
        cap = int(address_space_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from tfckpt_lab.cli import main; "
                             "sys.exit(main(sys.argv[1:]))", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, preexec_fn=limits)
    lines = size = 0
    tail = b""
    try:
        while True:  # the output is counted, never kept: --paths of a deep chain prints a lot
            if time.perf_counter() - t0 > timeout:
                raise subprocess.TimeoutExpired(args, timeout)
            chunk = proc.stdout.read(1 << 20)
            if not chunk:
                break
            lines += chunk.count(b"\n")
            size += len(chunk)
            tail = (tail + chunk)[-(1 << 20):]
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    finally:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace")
        proc.stdout.close()
        proc.stderr.close()
    last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode(errors="replace")
    return {"rc": proc.returncode, "lines": lines, "bytes": size, "last": last, "stderr": err,
            "seconds": time.perf_counter() - t0, "rss_mb": usage.ru_maxrss / 1024}


@pytest.fixture(scope="module")
def baseline_rss() -> float:
    """Peak RSS of a process that imports what `tfckpt-lab objects` imports and reads a tiny graph."""
    return _run_child(["objects", str(TESTS / "fixtures" / "tf" / "tf2_checkpoint")], timeout=120)["rss_mb"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["tree", "--paths", "--json"])
def test_chain_5000_deep_draws_lists_and_dumps(tmp_path, mode):
    prefix = graph_chain(str(tmp_path / "c"), 5_000)
    out = _run_child(["objects", prefix] + ([] if mode == "tree" else [mode]), timeout=120)
    assert out["rc"] == 0, out["stderr"][-500:]
    if mode == "tree":  # header, (root), one line per node below it
        assert out["lines"] == 2 + 4_999
        assert out["last"] == "[depth 4999] `-- c = v  float32[]"
    elif mode == "--paths":
        assert out["lines"] == 1 and out["last"] == "/".join(["c"] * 4_999) + "  ->  v"
    else:  # {"nodes": [ / one line per node / ]}
        assert out["lines"] == 5_002 and out["last"] == "]}"


@pytest.mark.slow
def test_chain_40000_lists_its_paths_in_little_memory(tmp_path, baseline_rss):
    """Before: 1.6 GB (every node's path string kept, 80,000 characters at the end)."""
    prefix = graph_chain(str(tmp_path / "c"), 40_000)
    for args in (["objects", prefix, "--paths"], ["objects", prefix]):
        out = _run_child(args, timeout=180)
        assert out["rc"] == 0, out["stderr"][-500:]
        assert out["rss_mb"] - baseline_rss < 80, out
    assert out["lines"] == 2 + 39_999


@pytest.mark.slow
def test_values_on_every_node_of_a_deep_chain_stream(tmp_path, baseline_rss):
    """10,000 paths of up to 20,000 characters (100 MB of output): built once each from the parent's,
    printed as made; memory stays that of one path."""
    prefix = graph_chain(str(tmp_path / "c"), 10_000, values="all")
    out = _run_child(["objects", prefix, "--paths"], timeout=180)
    assert out["rc"] == 0 and out["lines"] == 10_000
    assert out["bytes"] == sum(len(f"{'/'.join(['c'] * d)}  ->  v\n") for d in range(10_000))
    assert out["rss_mb"] - baseline_rss < 40, out


@pytest.mark.slow
def test_missing_keys_are_found_in_one_merge(tmp_path):
    """Before: every missing key scanned every stored key (20,000 x 20,000 string compares)."""
    graph = tl.read_object_graph(graph_missing_keys(str(tmp_path / "m"), 20_000))
    t0 = time.perf_counter()
    tree = graph.tree()
    elapsed = time.perf_counter() - t0
    assert tree.count("(missing from the checkpoint!)") == 20_000
    assert graph.value_paths()["n19999"] == "missing019999"
    with pytest.raises(tl.TensorNotFoundError):
        graph.get_tensor("n5")
    assert elapsed < 10, f"{elapsed:.1f} s"


@pytest.mark.slow
def test_100000_nodes_cost_a_few_hundred_bytes_each(tmp_path, baseline_rss):
    """Before: about 1.6 KB per node (1.68 GB for 10**6); protobuf's own parse is ~220 bytes of it."""
    n = 100_000
    prefix = graph_wide(str(tmp_path / "w"), n)
    for args in (["objects", prefix, "--paths"], ["objects", prefix], ["objects", prefix, "--json"]):
        out = _run_child(args, timeout=600)
        assert out["rc"] == 0, out["stderr"][-500:]
        per_node = (out["rss_mb"] - baseline_rss) * 2**20 / n
        assert per_node < 500, f"{args[2:]}: {per_node:.0f} bytes per node"
    assert out["lines"] == n + 3  # --json: one line per node (the root's too), plus the first and last


@pytest.mark.slow
@pytest.mark.parametrize("args", [[], ["--paths"]])
def test_slot_paths_doubling_are_capped(tmp_path, args, baseline_rss):
    prefix = graph_slot_doubling(str(tmp_path / "s"), 80)
    out = _run_child(["objects", prefix, *args], timeout=120, address_space_gb=3)
    assert out["rc"] == 0, out["stderr"][-500:]
    assert out["rss_mb"] - baseline_rss < 60, out
    graph = tl.read_object_graph(prefix)
    lengths = [len(n.path) if n.path is not None else None for n in graph.nodes]
    assert lengths[:4] == [0, 1, 21, 61]  # v, v/.OPTIMIZER_SLOT/v/m, then twice that plus 19...
    assert all(x is None or x <= og.MAX_PATH_CHARS for x in lengths)
    assert lengths[-1] is None and graph.value_paths()[f"(node {len(lengths) - 1})"] == "v"


def test_duplicate_edges_draw_each_node_once(tmp_path):
    """Two edges of one name to one node: the first is drawn (once), the second points to it."""
    graph = tl.read_object_graph(graph_duplicate_edges(str(tmp_path / "d"), 60))
    lines = graph.tree().splitlines()
    assert len(lines) == 1 + 2 * 59 + 1  # (root), per level the edge drawn and its twin, the root's value
    assert lines[1] == "|-- d = v  float32[]" and lines[2] == "|   |-- d = v  float32[]"
    assert lines[-2:] == ["|-- d -> 'd' = v", "`-- .VARIABLE_VALUE = v  float32[]"]


def test_tree_indents_40_levels_then_marks_the_depth(tmp_path):
    graph = tl.read_object_graph(graph_chain(str(tmp_path / "c"), 45))
    lines = graph.tree().splitlines()
    assert lines[0] == "(root)" and lines[1] == "`-- c" and lines[41] == " " * 4 * 40 + "`-- c"
    assert lines[42] == "[depth 42] `-- c" and lines[-1] == "[depth 44] `-- c = v  float32[]"


def test_graph_without_nodes_and_bad_references(tmp_path):
    empty = og.ObjectGraph(TrackableObjectGraph())
    assert empty.tree() == "(root)" and empty.value_paths() == {} and empty.paths() == {}
    with pytest.raises(KeyError):
        empty.node("")
    proto = TrackableObjectGraph()
    proto.nodes.add().slot_variables.add(original_variable_node_id=0, slot_name="m", slot_variable_node_id=-3)
    with pytest.raises(tl.MalformedError, match="slot 'm' points to node -3"):
        og.ObjectGraph(proto)
    proto = TrackableObjectGraph()
    proto.nodes.add().children.add(node_id=2**31 - 1, local_name="far")
    prefix = object_graph_checkpoint(str(tmp_path / "b"), proto)
    with pytest.raises(tl.MalformedError, match="child 'far' points to node 2147483647, but there are 1 nodes"):
        tl.read_object_graph(prefix)


def test_json_of_a_node_with_many_children_streams_exactly_as_message_to_dict(tmp_path):
    import json

    from tfckpt_lab.cli.objects import _BIG_NODE, _json_chunks

    proto = TrackableObjectGraph()
    root = proto.nodes.add()
    for i in range(_BIG_NODE + 5):
        root.children.add(node_id=i + 1, local_name=f"c{i}")
        proto.nodes.add().attributes.add(name=og.VARIABLE_VALUE, checkpoint_key="v")
    root.attributes.add(name="x", full_name="f", checkpoint_key="v")
    root.registered_saver.name = "saver"
    root.has_checkpoint_values.value = False  # set, though false: MessageToDict writes it
    graph = tl.read_object_graph(object_graph_checkpoint(str(tmp_path / "j"), proto, {"v": np.float32(1)}))
    text = "".join(_json_chunks(graph))
    assert json.loads(text) == graph.to_dict()
    assert json.loads(text)["nodes"][0]["has_checkpoint_values"] is False


def test_notebook_view_of_a_huge_tree_is_cut(tmp_path):
    graph = tl.read_object_graph(graph_wide(str(tmp_path / "w"), 5_000))
    html = graph._repr_html_()
    assert html.count("\n") == og.HTML_TREE_LINES and html.endswith("...</pre>")
    assert "5001 objects, 5000 saved values" in html
