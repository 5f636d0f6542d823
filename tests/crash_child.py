"""Child process for the kill-during-save test: save forever until SIGKILLed.

``python crash_child.py DIR`` cycles through these saves, each in its own folder of ``DIR``:

* ``saver``: TF1-style :class:`Saver` saves ``model-STEP`` (``max_to_keep=3``);
* ``manager``: a :class:`CheckpointManager` saves ``ckpt-N`` (``max_to_keep=3``);
* ``saver_same``: a Saver without ``global_step``, always to the same prefix ``model``;
* ``manager_same``: a manager whose ``checkpoint_number`` is always 1 (equal to the latest);
* ``manager_restart``: a manager created anew by every child without restoring, so its first
  saves overwrite ``ckpt-1``, ``ckpt-2``... of the previous child;
* ``object_same``: ``write_object_checkpoint`` over the one prefix its ``checkpoint`` file names.

Every save stores a step number ``s`` that no other save of the folder uses: every float tensor
is filled with ``s``, the int64 ``step`` holds it, and ``a_pad`` has ``s % 5 + 1`` elements, so
the byte offsets of the tensors after it differ between consecutive saves and a read that pairs
one save's index with another's data cannot come out consistent.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

import tfckpt_lab as tl
from tfckpt_lab.bundle import swap
from tfckpt_lab.checkpoint import files
from tfckpt_lab.checkpoint.manager import CheckpointManager
from tfckpt_lab.checkpoint.saver import Saver
from tfckpt_lab.checkpoint.state import update_checkpoint_state
from tfckpt_lab.checkpoint.object_writer import write_object_checkpoint

SHAPES = {"dense/kernel": (512, 512), "dense/bias": (512,), "embed": (1024, 512), "out/kernel": (512, 512)}
FOLDERS = ["saver", "manager", "saver_same", "manager_same", "manager_restart", "object_same"]


def model(step: int) -> dict[str, np.ndarray]:
    out = {"a_pad": np.full(step % 5 + 1, step, np.float64)}
    out.update({name: np.full(shape, step, np.float32) for name, shape in SHAPES.items()})
    out["step"] = np.int64(step)
    out["note"] = np.array([b"step %d" % step] * 3, dtype=object)
    return out


def fresh_step() -> int:
    """A step no earlier save used: microseconds since 2024, as a float64-exact integer."""
    return int((time.time() - 1.7e9) * 1e6)


def main(root: str) -> None:
    files.STALE_TEMP_AGE = 0.0  # one writer per directory here: every save clears the previous kill's debris
    swap.STALE_TEMP_AGE = 0.0  # (and every bare write_object_checkpoint, that of its own prefix)
    d = {name: os.path.join(root, name) for name in FOLDERS}
    for path in d.values():
        os.makedirs(path, exist_ok=True)
    latest = tl.latest_checkpoint(d["saver"])
    step = int(latest.rsplit("-", 1)[1]) if latest and latest.rsplit("-", 1)[1].isdigit() else 0
    saver = Saver(max_to_keep=3)
    state = tl.get_checkpoint_state(d["saver"])
    if state is not None:
        saver.recover_last_checkpoints(state.all_model_checkpoint_paths)
    manager = CheckpointManager(d["manager"], max_to_keep=3)
    manager.restore_or_initialize()
    same_saver = Saver(max_to_keep=3)
    manager_same = CheckpointManager(d["manager_same"], max_to_keep=2)
    manager_restart = CheckpointManager(d["manager_restart"], max_to_keep=3)  # counter starts at 0 again
    object_prefix = os.path.join(d["object_same"], "ckpt")
    if tl.latest_checkpoint(d["object_same"]) is None:
        write_object_checkpoint(object_prefix, {"model": model(fresh_step())})
        update_checkpoint_state(d["object_same"], object_prefix)
    print("ready", flush=True)  # the parent times its kill from here, not from the (load-dependent) imports
    while True:
        step += 1
        saver.save(model(step), os.path.join(d["saver"], "model"), global_step=step)
        manager.save(model(manager.save_counter + 1))
        same_saver.save(model(fresh_step()), os.path.join(d["saver_same"], "model"))
        manager_same.save(model(fresh_step()), checkpoint_number=1)
        manager_restart.save(model(fresh_step()))
        write_object_checkpoint(object_prefix, {"model": model(fresh_step())})


if __name__ == "__main__":
    main(sys.argv[1])
