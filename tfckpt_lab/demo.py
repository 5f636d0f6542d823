"""The demo checkpoint the tutorial starts from: the classic two-variable example, saved twice."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["demo_variables", "demo_initial_variables", "make_demo_checkpoint", "TRAINING_STEP"]

#: What "training" added to ``w1`` between the two saves of the demo (as notebook 02's ``w1 + 0.5``).
TRAINING_STEP = np.float32(0.5)


def demo_variables(seed: int = 0) -> dict[str, np.ndarray]:
    """``w1`` (shape [2]) and ``w2`` (shape [5]), float32, like ``tf.random_normal`` would give."""
    rng = np.random.default_rng(seed)
    return {
        "w1": rng.standard_normal(2).astype(np.float32),
        "w2": rng.standard_normal(5).astype(np.float32),
    }


def demo_initial_variables(seed: int = 0) -> dict[str, np.ndarray]:
    """The same variables before training: ``w1`` is :data:`TRAINING_STEP` lower, ``w2`` (not trained) the same."""
    v = demo_variables(seed)
    v["w1"] = (v["w1"] - TRAINING_STEP).astype(np.float32)
    return v


def make_demo_checkpoint(directory, *, global_step: int = 1000) -> str:
    """Write the demo's two saves into ``directory`` and return the prefix of the newer one.

    ``DIR/my_test_model-0`` holds the variables as initialized, ``DIR/my_test_model-<global_step>``
    (returned) the variables after training (:func:`demo_variables`): ``w1`` changed,
    ``w2`` did not, so a diff of the two steps has something to show. Both are saved
    with one :class:`~tfckpt_lab.Saver`, as ``saver.save(sess, DIR/"my_test_model",
    global_step=...)`` would in TF1, with a ``checkpoint`` state file naming the newer
    one, so ``latest_checkpoint(DIR)`` finds it.

    >>> import tempfile
    >>> from tfckpt_lab import latest_checkpoint, load_checkpoint
    >>> d = tempfile.mkdtemp()
    >>> prefix = make_demo_checkpoint(d)
    >>> os.path.basename(prefix), latest_checkpoint(d) == prefix
    ('my_test_model-1000', True)
    >>> before = load_checkpoint(os.path.join(d, "my_test_model-0"))
    >>> float(load_checkpoint(prefix)["w1"][0] - before["w1"][0]), bool((load_checkpoint(prefix)["w2"] == before["w2"]).all())
    (0.5, True)
    """
    from .checkpoint.saver import Saver

    if global_step <= 0:
        raise ValueError(f"global_step must be positive (step 0 is the first save), not {global_step}")
    os.makedirs(directory, exist_ok=True)
    save_path = os.path.join(os.fspath(directory), "my_test_model")
    saver = Saver()
    saver.save(demo_initial_variables(), save_path, global_step=0)
    return saver.save(demo_variables(), save_path, global_step=global_step)
