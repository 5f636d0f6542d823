"""The demo checkpoint the tutorial starts from: the classic two-variable example."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["demo_variables", "make_demo_checkpoint"]


def demo_variables(seed: int = 0) -> dict[str, np.ndarray]:
    """``w1`` (shape [2]) and ``w2`` (shape [5]), float32, like ``tf.random_normal`` would give."""
    rng = np.random.default_rng(seed)
    return {
        "w1": rng.standard_normal(2).astype(np.float32),
        "w2": rng.standard_normal(5).astype(np.float32),
    }


def make_demo_checkpoint(directory, *, global_step: int = 1000) -> str:
    """Write ``DIR/my_test_model-<global_step>`` (plus a ``checkpoint`` state file) and return its prefix.

    Saved with :class:`~tfckpt_lab.Saver`, as ``saver.save(sess, DIR/"my_test_model",
    global_step=1000)`` would in TF1, so ``latest_checkpoint(DIR)`` finds it.
    """
    from .checkpoint.saver import Saver

    os.makedirs(directory, exist_ok=True)
    return Saver().save(demo_variables(), os.path.join(os.fspath(directory), "my_test_model"),
                        global_step=global_step)
