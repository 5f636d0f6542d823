"""Child process for the kill-during-save test: save forever until SIGKILLed.

``python crash_child.py DIR`` alternates a TF1-style :class:`Saver` save into ``DIR/saver``
and a :class:`CheckpointManager` save into ``DIR/manager``, continuing the step count from
what the directories already hold.  Every tensor of the checkpoint for step ``s`` is filled
with ``s``, so a reader can tell a complete checkpoint from a mix of two saves.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import tfckpt_lab as tl
from tfckpt_lab.checkpoint import files
from tfckpt_lab.checkpoint.manager import CheckpointManager
from tfckpt_lab.checkpoint.saver import Saver

SHAPES = {"dense/kernel": (512, 512), "dense/bias": (512,), "embed": (2048, 512), "out/kernel": (512, 1024)}


def model(step: int) -> dict[str, np.ndarray]:
    out = {name: np.full(shape, step, np.float32) for name, shape in SHAPES.items()}
    out["global_step"] = np.int64(step)
    out["note"] = np.array([b"step %d" % step] * 3, dtype=object)
    return out


def main(root: str) -> None:
    files.STALE_TEMP_AGE = 0.0  # one writer per directory here: every save clears the previous kill's debris
    saver_dir = os.path.join(root, "saver")
    manager_dir = os.path.join(root, "manager")
    os.makedirs(saver_dir, exist_ok=True)
    latest = tl.latest_checkpoint(saver_dir)
    step = int(latest.rsplit("-", 1)[1]) if latest else 0
    saver = Saver(max_to_keep=3)
    state = tl.get_checkpoint_state(saver_dir)
    if state is not None:
        saver.recover_last_checkpoints(state.all_model_checkpoint_paths)
    manager = CheckpointManager(manager_dir, max_to_keep=3)
    manager.restore_or_initialize()
    print("ready", flush=True)  # the parent times its kill from here, not from the (load-dependent) imports
    while True:
        step += 1
        saver.save(model(step), os.path.join(saver_dir, "model"), global_step=step)
        manager.save(model(manager.save_counter + 1))


if __name__ == "__main__":
    main(sys.argv[1])
