"""``tfckpt-lab import``: ``.safetensors`` / ``.npz`` tensors into a checkpoint (see :mod:`tfckpt_lab.importing`)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("import", help="write .safetensors or .npz tensors as a TensorFlow checkpoint",
                       description="Write the tensors of a .safetensors or .npz file as a checkpoint: name-based "
                                   "(TF1 Saver and tf.train.load_checkpoint read it), or with --object a TF2 "
                                   "object checkpoint where the name model/dense/kernel is the object path "
                                   "model -> dense -> kernel (tf.train.Checkpoint(model=...).restore reads it).")
    p.add_argument("src", help="a .safetensors or .npz file")
    p.add_argument("out_prefix", help="the checkpoint prefix to write (dir/model)")
    p.add_argument("--object", action="store_true", help="write a TF2 object-based checkpoint")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..checkpoint.reader import list_variables
    from ..importing import import_tensors

    prefix = import_tensors(args.src, args.out_prefix, object_checkpoint=args.object)
    n = len(list_variables(prefix))
    print(f"{prefix}: {n} tensors ({'TF2 object' if args.object else 'name-based'} checkpoint)")
    return 0
