"""Shared test helpers: fixture locations, the fast suite's selection, the TensorFlow / browser skips,
and the session guard that fails a run which wrote into the checkout or the home folder."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def artifacts_dir() -> Path:
    """Where tests leave figures, screenshots and logs for a person to look at afterwards.

    ``$TFCKPT_LAB_ARTIFACTS`` if set, else a folder under the system's temporary directory:
    never the checkout, never the home folder.
    """
    d = Path(os.environ.get("TFCKPT_LAB_ARTIFACTS") or Path(tempfile.gettempdir()) / "tfckpt_lab-test-artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d
TF_FIXTURES = FIXTURES / "tf"

HAVE_TF = importlib.util.find_spec("tensorflow") is not None

# -- tests leave no trace in the checkout or the home folder ---------------------------------
CHECKOUT = Path(__file__).resolve().parent.parent
# Not ours to watch: git's own folder, virtual environments, byte code, and pytest's cache
# (``.pytest_cache``: pytest's ``--lf``/``--ff`` memory of *this* checkout, which is why it is kept
# here and not in a temporary folder shared by every checkout on the machine; it is git-ignored,
# and CI runs with ``-p no:cacheprovider``).
_CHECKOUT_IGNORED = ("__pycache__", ".pytest_cache", ".git")  # and every .venv* folder
# Where the libraries the tests use keep caches and settings by default.  Their variables point
# into a temporary folder for the whole session (set below, before anything imports them),
# and the watch fails the session if anything still writes there.
_HOME_WATCHED = (".jupyter", ".local/share/jupyter", ".ipython", ".keras", ".cache/matplotlib",
                 ".config/matplotlib", ".npm/_logs", ".hypothesis")
_SESSION_TMP = Path(tempfile.gettempdir()) / "tfckpt_lab-test-session"
REDIRECTED: dict[str, str] = {}  # the variables set here (one already set is left as it is)
# (Hypothesis keeps its example database and caches in ./.hypothesis, the checkout, unless told otherwise.)
for _var, _name in (("MPLCONFIGDIR", "matplotlib"), ("KERAS_HOME", "keras"), ("IPYTHONDIR", "ipython"),
                    ("HYPOTHESIS_STORAGE_DIRECTORY", "hypothesis")):
    if not os.environ.get(_var):
        (_SESSION_TMP / _name).mkdir(parents=True, exist_ok=True)
        os.environ[_var] = REDIRECTED[_var] = str(_SESSION_TMP / _name)
if importlib.util.find_spec("hypothesis") is not None:
    from hypothesis.configuration import set_hypothesis_home_dir  # for versions that do not read the variable

    set_hypothesis_home_dir(os.environ["HYPOTHESIS_STORAGE_DIRECTORY"])


def _files_under(root: Path, ignored: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Every file and folder under ``root`` (relative path -> size and modification time of a file),
    leaving out the folders named in ``ignored`` (and, if any are, the ``.venv*`` ones)."""
    out: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in ignored and not (ignored and d.startswith(".venv"))]
        for d in dirs:
            out[os.path.relpath(os.path.join(folder, d), root) + os.sep] = ()
        for f in files:
            path = os.path.join(folder, f)
            try:
                st = os.lstat(path)
            except FileNotFoundError:  # removed while we looked
                continue
            out[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
    return out


def trace_snapshot(checkout: Path = CHECKOUT, home: Path | None = None) -> dict[str, tuple]:
    """What a test session must leave as it found it: the checkout's files, the home folder's
    top-level names and everything under the home folders in ``_HOME_WATCHED``."""
    home = Path(home or os.path.expanduser("~"))
    snap = {f"checkout: {k}": v for k, v in _files_under(checkout, _CHECKOUT_IGNORED).items()}
    if home.is_dir() and home != checkout:
        snap.update({f"~/{p.name}": () for p in home.iterdir()})
        for sub in _HOME_WATCHED:
            snap.update({f"~/{sub}/{k}": v for k, v in _files_under(home / sub).items()})
    return snap


def trace_changes(before: dict[str, tuple], after: dict[str, tuple]) -> list[str]:
    """The paths that appeared, changed or went away between two :func:`trace_snapshot` calls."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k, "gone") != after.get(k, "gone"))


@pytest.fixture(scope="session", autouse=True)
def leaves_no_trace():
    """Fail the session (an error after its last test) if the tests wrote into the checkout or the home folder."""
    before = trace_snapshot()
    yield
    changed = trace_changes(before, trace_snapshot())
    if changed:
        shown = ", ".join(changed[:20]) + (f" and {len(changed) - 20} more" if len(changed) > 20 else "")
        pytest.fail(f"the tests wrote outside their temporary folders ({len(changed)} paths): {shown}", pytrace=False)


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true", default=False,
                     help="also run the tests marked 'slow' or 'tf' (notebooks, browsers, kill tests, long walks, TensorFlow); "
                          "plain 'pytest' runs the fast suite a contributor reruns while editing")


def pytest_report_header(config):
    if not config.getoption("--full"):
        return "fast suite: tests marked 'slow' or 'tf' are not run (pytest --full runs everything)"
    return None


def pytest_collection_modifyitems(config, items):
    """Without ``--full``, tests marked ``slow`` or ``tf`` are deselected (the fast suite).

    Tests marked ``tf`` are skipped cleanly when TensorFlow is not installed.

    Real-browser tests (marked ``browser``) drive JupyterLab in Chromium, and ``timing`` tests
    compare wall-clock times; on a shared, sometimes loaded machine either can be slow once,
    so they are retried up to twice (pytest-rerunfailures) rather than failing the whole run.
    A real regression fails all three attempts.  Every other test runs once.
    """
    if not config.getoption("--full"):
        # Tests against real TensorFlow pay for importing it (seconds): they count as slow too.
        slow = [item for item in items if "slow" in item.keywords or "tf" in item.keywords]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if "slow" not in item.keywords and "tf" not in item.keywords]
    have_rerun = config.pluginmanager.hasplugin("rerunfailures")
    skip = pytest.mark.skip(reason="TensorFlow is not installed (pip install 'tfckpt-lab[tf]')")
    for item in items:
        if not HAVE_TF and "tf" in item.keywords:
            item.add_marker(skip)
        if have_rerun and ("browser" in item.keywords or "timing" in item.keywords):
            item.add_marker(pytest.mark.flaky(reruns=2, reruns_delay=5))


@pytest.fixture(scope="session")
def tf():
    """The real TensorFlow module (tests using it should also be marked ``@pytest.mark.tf``)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not HAVE_TF:
        pytest.skip("TensorFlow is not installed")
    import tensorflow

    return tensorflow


def declared_fixtures(script: str, variable: str) -> list[str]:
    """The fixture names a ``tests/fixtures/make_*.py`` script declares in its list ``variable``.

    Strings in the list, or the ``"name"`` of each dict in it; read from the script's source
    (not imported: the scripts need TensorFlow).  Tests are parametrized over these names, not
    over what happens to be on disk, so a committed fixture that goes missing fails its tests
    instead of quietly dropping them.
    """
    import ast

    tree = ast.parse((FIXTURES / script).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == variable for t in node.targets):
            names = []
            for item in node.value.elts:
                if isinstance(item, ast.Constant):
                    names.append(item.value)
                elif isinstance(item, ast.Dict):
                    names += [v.value for k, v in zip(item.keys, item.values)
                              if isinstance(k, ast.Constant) and k.value == "name"]
            return names
    raise LookupError(f"{script} declares no list named {variable}")


def slow_params(values, *slow_ids: str, ids=str) -> list:
    """``values`` as ``pytest.param`` objects, those whose id is in ``slow_ids`` marked ``slow``.

    For the heavy members of a parameter set (measured at half a second or more: the 10,000-entry
    index, the 2.4 MB ``.meta``): the fast suite keeps the others, ``pytest --full`` runs them all.
    """
    given = [ids(v) for v in values]
    unknown = sorted(set(slow_ids) - set(given))
    assert not unknown, f"no parameters with the ids {unknown} (among {given})"
    return [pytest.param(v, id=i, marks=[pytest.mark.slow] if i in slow_ids else []) for v, i in zip(values, given)]


def fixture_cases() -> list[str]:
    """The golden TensorFlow cases under ``fixtures/tf`` (as ``make_fixtures.py`` declares them)."""
    return sorted(declared_fixtures("make_fixtures.py", "CASES"))


def load_expected(case: str) -> dict:
    return json.loads((TF_FIXTURES / case / "expected.json").read_text())


def b64(s: str) -> bytes:
    return base64.b64decode(s)


def assert_same_tensor(actual, expected) -> None:
    """Equal values, dtype and shape; NaNs equal; string tensors compared element by element."""
    a = np.asarray(actual) if not isinstance(actual, bytes) else np.array(actual, dtype=object)
    e = np.asarray(expected) if not isinstance(expected, bytes) else np.array(expected, dtype=object)
    assert a.shape == e.shape, (a.shape, e.shape)
    if e.dtype == object:
        assert [bytes(x) for x in a.reshape(-1)] == [bytes(x) for x in e.reshape(-1)]
        return
    assert a.dtype == e.dtype, (a.dtype, e.dtype)
    assert a.tobytes() == e.tobytes()


def decode_name(name: str) -> bytes:
    """Fixture JSON names: UTF-8 text, or ``b64:<base64>`` for names that are not UTF-8."""
    return b64(name[4:]) if name.startswith("b64:") else name.encode("utf-8")


def _typed(arr: np.ndarray, tf_dtype: str) -> np.ndarray:
    """Undo the fixtures' raw unsigned-int storage of ml_dtypes types."""
    from tfckpt_lab import dtypes as dt

    want = next((dt.numpy_dtype(n) for n in dt.ALL_DATATYPES if dt.dtype_name(n) == tf_dtype), None)
    if want is not None and want != object and want != arr.dtype:
        return arr.view(want)
    return arr


def _strings(spec: dict) -> np.ndarray:
    flat = [b64(s) for s in spec["elements_b64"]]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(spec["shape"])


def expected_values(case: str, which: dict | None = None, npz: str = "values.npz") -> dict[bytes, np.ndarray]:
    """Tensor values as TensorFlow's own reader returned them, keyed by raw name."""
    exp = which or load_expected(case)
    case_dir = TF_FIXTURES / case
    out: dict[bytes, np.ndarray] = {}
    if "stacked_values" in exp:
        stacked = np.load(case_dir / npz)["all"]
        for i, (name, _shape) in enumerate(exp["list_variables"]):
            out[decode_name(name)] = stacked[i]
        return out
    values = np.load(case_dir / npz) if (case_dir / npz).exists() else {}
    for name, t in exp["tensors"].items():
        if "read_error" in t:  # TF's reader refused it (e.g. a partitioned variable saved only in part)
            continue
        if "strings" in t:
            out[decode_name(name)] = _strings(t["strings"])
        else:
            arr = values[t["values"].split(":", 1)[1]]
            out[decode_name(name)] = _typed(arr, t["dtype"])
    return out


def save_order_inputs(case: str) -> list[tuple[bytes, np.ndarray]]:
    """The tensors, in the order they were passed to TF's SaveV2, for byte-exact writer tests."""
    exp = load_expected(case)
    case_dir = TF_FIXTURES / case
    inputs = np.load(case_dir / "inputs.npz") if (case_dir / "inputs.npz").exists() else {}
    out = []
    for i, item in enumerate(exp["save_order"]):
        if isinstance(item, str):  # big cases: a list of names sharing save_order_common
            out.append((decode_name(item), _typed(np.asarray(inputs["all"][i]),
                                                  exp["save_order_common"]["tf_dtype"])))
            continue
        name = b64(item["name_b64"]) if "name_b64" in item else decode_name(item["name"])
        if "strings" in item:
            out.append((name, _strings(item["strings"])))
            continue
        arr = inputs[item["values"].split(":", 1)[1]]
        out.append((name, _typed(np.asarray(arr), item["tf_dtype"])))
    return out


# -- real-browser tests ----------------------------------------------------------------------
CHROMIUM = os.environ.get("TFCKPT_LAB_CHROMIUM", "/usr/bin/chromium")
# As root on a machine whose network reaches only package registries: no sandbox, no GPU, and no
# background connections (Chromium would otherwise retry unreachable Google hosts).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def playwright_or_skip(*modules: str):
    """Playwright's sync API, after skipping cleanly unless Debian's Chromium and ``modules`` are there."""
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set TFCKPT_LAB_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    for m in ("jupyterlab", *modules):
        pytest.importorskip(m)
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")  # never download a browser of its own
    return sync_api


def launch_chromium(playwright, profile_dir, *, width: int = 1400, height: int = 1000):
    """A headless Chromium context with a new, empty profile, using Debian's browser.

    Chromium writes outside its profile too: its crash-report database under
    ``$XDG_CONFIG_HOME/chromium`` and GTK's dconf cache under ``$XDG_CACHE_HOME`` (both in the
    home folder by default, seen on a machine whose home folder started empty).  The browser
    gets a home, config and cache folder of its own next to the profile.
    """
    home = Path(f"{profile_dir}-home")
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_DATA_HOME=str(home / ".local" / "share"))
    for folder in (".config", ".cache", ".local/share"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    return playwright.chromium.launch_persistent_context(
        str(profile_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, env=env,
        viewport={"width": width, "height": height})


def lab_env(base, env: dict | None = None) -> dict:
    """``env`` (default: this process's environment) for a Jupyter server and its kernels that
    write only under ``base``.

    JupyterLab's settings and workspaces, Jupyter's config/data/runtime folders (the notebook trust
    database, the server's runtime files), IPython's profile (the kernel's history database) and
    matplotlib's and npm's caches all go into ``base``, so a browser test leaves the home folder as it was.
    ``HOME`` itself is ``base/home``, a new, empty folder: anything that still wrote to "~" would
    land there, and :func:`assert_home_untouched` checks that nothing did.  (Watching the real home
    folder instead would also see whatever other processes on the machine write there.)
    """
    base = Path(base)
    dirs = {"JUPYTERLAB_SETTINGS_DIR": "lab-settings", "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
            "JUPYTER_CONFIG_DIR": "jupyter-config", "JUPYTER_DATA_DIR": "jupyter-data",
            "JUPYTER_RUNTIME_DIR": "jupyter-runtime", "IPYTHONDIR": "ipython", "MPLCONFIGDIR": "matplotlib",
            "npm_config_cache": "npm-cache",  # JupyterLab runs npm at start-up, which logs to ~/.npm/_logs
            "HOME": "home"}
    env = dict(os.environ if env is None else env)
    for var, name in dirs.items():
        (base / name).mkdir(parents=True, exist_ok=True)
        env[var] = str(base / name)
    # JupyterLab 4 renders only the cells in view ("windowing"); render them all, so that every
    # cell's output is in the DOM to be checked.
    settings = base / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    return env


def assert_home_untouched(env: dict) -> None:
    """The home folder a :func:`lab_env` server ran with is still empty, and its own folders were used."""
    home = Path(env["HOME"])
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert not written, f"the Jupyter server or its kernel wrote into the home folder: {written}"
    used = [var for var in ("JUPYTER_RUNTIME_DIR", "IPYTHONDIR") if any(Path(env[var]).rglob("*"))]
    assert used, "the server's runtime files and the kernel's IPython folder were not where lab_env put them"


def shots_dirs(tmp_dir) -> list[Path]:
    """Where screenshots go: pytest's temporary folder, and ``$TFCKPT_LAB_SHOTS`` when set."""
    dirs = [Path(tmp_dir)]
    if os.environ.get("TFCKPT_LAB_SHOTS"):
        dirs.append(Path(os.environ["TFCKPT_LAB_SHOTS"]))
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    return dirs


def answer_kernel_dialog(pg, *, wait_ms: int = 0) -> None:
    """Answer JupyterLab's "Select Kernel" dialog as a user would; fail with the words of any other.

    A modal dialog swallows every click.  When the kernel specs arrive late (a loaded machine),
    JupyterLab asks which kernel to start although the notebook names ``python3``; the
    dialog preselects it, and "Select" starts it.  Any other dialog (a kernel that failed to
    start, a server error) is a failure worth reading.  ``wait_ms``: how long to wait for a
    dialog to appear (0: only look).
    """
    dialog = pg.locator(".jp-Dialog")
    if wait_ms:
        try:
            dialog.first.wait_for(state="attached", timeout=wait_ms)
        except Exception:  # no dialog: nothing to answer
            return
    if not dialog.count():
        return
    text = dialog.first.inner_text()
    if text.startswith("Select Kernel") and "Python 3" in text:
        dialog.first.locator(".jp-Dialog-button.jp-mod-accept").click(timeout=10_000)
        dialog.first.wait_for(state="detached", timeout=30_000)
        pg.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=90_000)
        return
    raise AssertionError(f"JupyterLab shows a dialog: {text!r}")


def dismiss_news(pg) -> None:
    """JupyterLab asks once whether to fetch Jupyter news; answer No so it is not in the pictures."""
    try:
        pg.locator(".jp-toast-button", has_text=re.compile(r"^No$")).first.click(timeout=3_000)
    except Exception:  # not asked
        pass


def save_screenshot(target, name: str, tmp_dir) -> list[Path]:
    """Screenshot a Playwright page or locator into every :func:`shots_dirs` folder."""
    paths = []
    for d in shots_dirs(tmp_dir):
        p = d / name
        target.screenshot(path=str(p))
        paths.append(p)
    return paths


# In-page measurements, as JavaScript run by Playwright (``page.evaluate(LOOK_JS + "...")``).
#   rgba(css)          any CSS colour the browser can paint (rgb(), color(srgb ...), names) -> [r, g, b, a]
#   backgroundOf(el)   the colour behind el's text: its own background and its ancestors', composited
#                      (transparent and translucent layers let the ones below show through); for SVG
#                      text, the filled shape under its middle first
#   contrastOf(el)     WCAG 2 contrast ratio of el's text colour (composited on that background)
#   truncated(el)      its text is cut off (wider than its box, with overflow hidden/ellipsis; for a
#                      drop-down, its chosen option wider than the room beside the arrow)
LOOK_JS = r"""
const _canvas = document.createElement("canvas");
_canvas.width = _canvas.height = 1;
const _ctx = _canvas.getContext("2d", { willReadFrequently: true });
function rgba(css) {
  if (!css || css === "none" || css.startsWith("url(")) return [0, 0, 0, 0];
  _ctx.clearRect(0, 0, 1, 1);
  _ctx.fillStyle = "rgba(0, 0, 0, 0)";
  _ctx.fillStyle = css;
  _ctx.fillRect(0, 0, 1, 1);
  const d = _ctx.getImageData(0, 0, 1, 1).data;
  return [d[0], d[1], d[2], d[3] / 255];
}
function over(top, below) {  // top composited over an opaque colour
  const a = top[3];
  return [0, 1, 2].map((i) => top[i] * a + below[i] * (1 - a)).concat([1]);
}
function flatten(layers) {  // layers: top first; the page below them all is white
  let c = [255, 255, 255, 1];
  for (let i = layers.length - 1; i >= 0; i--) c = over(layers[i], c);
  return c;
}
function ancestorLayers(el) {
  const layers = [];
  for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
    const bg = rgba(getComputedStyle(e).backgroundColor);
    if (bg[3] > 0) layers.push(bg);
    if (bg[3] >= 1) break;
  }
  return layers;
}
function backgroundOf(el) {
  if (el instanceof SVGElement && el.tagName !== "svg") {
    const r = el.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const layers = [];
    for (const e of document.elementsFromPoint(x, y)) {
      if (e === el || e.tagName === "text") continue;
      if (e instanceof SVGElement && e.tagName !== "svg") {
        const f = rgba(getComputedStyle(e).fill);
        if (f[3] > 0) { layers.push(f); if (f[3] >= 1) return flatten(layers); }
        continue;
      }
      return flatten(layers.concat(ancestorLayers(e)));
    }
    return flatten(layers.concat(ancestorLayers(el.ownerSVGElement)));
  }
  return flatten(ancestorLayers(el));
}
function luminance(c) {
  const lin = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}
function contrastOf(el) {
  const bg = backgroundOf(el);
  const cs = getComputedStyle(el);
  const fg = over(rgba(el instanceof SVGElement ? cs.fill : cs.color), bg);
  const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
  return (hi + 0.05) / (lo + 0.05);
}
function visible(el) {
  const r = el.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && el.getClientRects().length > 0;
}
function truncated(el) {
  if (el.tagName === "SELECT") {  // a drop-down shows its chosen option in a box of its own width
    const cs = getComputedStyle(el), option = el.options[el.selectedIndex];
    if (!option) return false;
    _ctx.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 16;  // the arrow
    return _ctx.measureText(option.text).width > room;
  }
  return el.scrollWidth > el.clientWidth + 1;
}
"""
