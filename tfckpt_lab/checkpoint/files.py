"""Checkpoint-level file names: numbering a save, the ``.meta`` beside it, deleting one.

Names, as TensorFlow builds them::

    TF1 Saver:           SAVE_PATH-STEP          model-1000    (pad_step_number: model-00001000)
                         SAVE_PATH               model         (no global_step)
    TF2 manager:         DIRECTORY/NAME-N        ckpt-3        (N = save counter or checkpoint_number)
    meta graph (TF1):    PREFIX.meta             model-1000.meta
    one checkpoint:      PREFIX.index  PREFIX.data-SSSSS-of-NNNNN ...  [PREFIX.meta]

Deleting a checkpoint removes its ``.index`` first (from then on no reader can open it),
then every file matching ``.data-?????-of-?????``, then its ``.meta`` (if any), and nothing
else.  A deletion cut short therefore leaves data and ``.meta`` files without an index, never
an index without data; :func:`remove_orphans` deletes such leftovers later.
"""

from __future__ import annotations

import glob
import os
import re
import time

from ..bundle.naming import index_path

__all__ = [
    "STEP_PAD_WIDTH",
    "checkpoint_path",
    "meta_graph_filename",
    "checkpoint_files",
    "remove_checkpoint",
    "remove_checkpoints",
    "remove_orphans",
    "get_checkpoint_mtimes",
    "remove_stale_temp_files",
]

STEP_PAD_WIDTH = 8  # Saver(pad_step_number=True): model-00001000
_DATA_GLOB = ".data-?????-of-?????"
_SHARD_SPEC_RE = re.compile(r"-[\d?]+-of-\d+$")  # the V1 sharded suffix -00001-of-00002


def checkpoint_path(save_path, global_step=None, *, pad_step_number: bool = False) -> str:
    """The prefix a TF1 ``Saver.save(save_path, global_step)`` writes.

    >>> checkpoint_path("run/model", 1000), checkpoint_path("run/model", 7, pad_step_number=True)
    ('run/model-1000', 'run/model-00000007')
    >>> checkpoint_path("run/model")
    'run/model'
    """
    save_path = os.fspath(save_path)
    if global_step is None:
        return save_path
    step = int(global_step)
    if pad_step_number:
        return f"{save_path}-{step:0{STEP_PAD_WIDTH}d}"
    return "%s-%d" % (save_path, step)


def meta_graph_filename(checkpoint_prefix, meta_graph_suffix: str = "meta") -> str:
    """``PREFIX.meta`` (a V1 ``-?????-of-NNNNN`` shard suffix is dropped first).

    >>> meta_graph_filename("run/model-1000")
    'run/model-1000.meta'
    """
    base = _SHARD_SPEC_RE.sub("", os.fspath(checkpoint_prefix))
    return f"{base}.{meta_graph_suffix}"


def checkpoint_files(checkpoint_prefix, *, meta_graph_suffix: str | None = "meta") -> list[str]:
    """The existing files of one checkpoint: ``.meta`` (if asked), ``.index``, every data shard."""
    prefix = os.fspath(checkpoint_prefix)
    out = []
    if meta_graph_suffix:
        out += glob.glob(glob.escape(meta_graph_filename(prefix, meta_graph_suffix)))
    out += glob.glob(glob.escape(index_path(prefix)))
    out += sorted(glob.glob(glob.escape(prefix) + _DATA_GLOB))
    return out


def remove_checkpoint(checkpoint_prefix, *, meta_graph_suffix: str | None = "meta", directory=None,
                      ops=None) -> list[str]:
    """Delete one checkpoint's files, as TensorFlow does when rotating; return what was removed.

    The ``.index`` goes first, then the data shards, then the ``.meta``: a deletion cut short
    never leaves an index that names missing data.  Files already gone (another process
    deleting too) are skipped silently.  ``meta_graph_suffix=None`` leaves a ``.meta`` alone
    (TF2's manager never touches one).  With ``directory``, refuse
    (:class:`~tfckpt_lab.errors.UnsafePathError`, nothing deleted) unless the checkpoint lies
    directly in that directory, as the kernel resolves symlinks and ``..``
    (:func:`~tfckpt_lab.checkpoint.state.is_inside_directory`); the files are then deleted
    by name inside the directory that was checked, so a symlink changed meanwhile cannot
    redirect the deletion.  ``ops``: a :class:`~tfckpt_lab.fileio.FileOps` that sees each one.
    """
    return remove_checkpoints([checkpoint_prefix], meta_graph_suffix=meta_graph_suffix,
                              directory=directory, ops=ops)[0]


def _dir_matches(fd: int, path: str) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path or os.curdir)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


_DATA_NAME = re.compile(r"^(.*)\.data-[^/]{5}-of-[^/]{5}$", re.DOTALL)  # TF's glob .data-?????-of-?????


def _data_by_base(names) -> dict[str, list[str]]:
    """Data shard names grouped by the prefix they belong to (one pass over the listing)."""
    out: dict[str, list[str]] = {}
    for n in names:
        m = _DATA_NAME.match(n)
        if m is not None:
            out.setdefault(m.group(1), []).append(n)
    return out


def _checkpoint_names(base: str, names, data_by_base, meta_graph_suffix) -> list[str]:
    """``base``'s files among ``names``, in deletion order: index, data shards, meta."""
    out = [base + ".index"] if base + ".index" in names else []
    out += sorted(data_by_base.get(base, ()))
    if meta_graph_suffix:
        meta = os.path.basename(meta_graph_filename(base, meta_graph_suffix))
        if meta in names:
            out.append(meta)
    return out


def remove_checkpoints(checkpoint_prefixes, *, meta_graph_suffix: str | None = "meta", directory=None,
                       ops=None) -> list[list[str]]:
    """:func:`remove_checkpoint` for many prefixes, listing each directory once; one list per prefix.

    With ``directory``, every prefix is checked before anything is deleted.
    """
    from ..errors import UnsafePathError, os_error
    from ..fileio import FileOps
    from .state import _Inside, _split

    ops = ops or FileOps()
    prefixes = [os.fspath(p) for p in checkpoint_prefixes]
    if directory is not None:
        inside = _Inside(directory)
        for p in prefixes:
            if not inside(p):
                raise UnsafePathError(f"refusing to delete a checkpoint outside {os.fspath(directory)!r}", path=p)
    by_parent: dict[str, list[int]] = {}
    bases = []
    for i, p in enumerate(prefixes):
        parent, base = _split(p)
        bases.append(base)
        by_parent.setdefault(parent, []).append(i)
    removed: list[list[str]] = [[] for _ in prefixes]
    use_fd = os.unlink in os.supports_dir_fd and os.listdir in os.supports_fd
    for parent, members in by_parent.items():
        fd = None
        try:
            if use_fd:
                fd = os.open(parent or os.curdir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
                if directory is not None and not _dir_matches(fd, os.fspath(directory)):
                    raise UnsafePathError("the directory changed while checkpoints were being deleted",
                                          path=parent or os.curdir)
                names = set(os.listdir(fd))
            else:  # pragma: no cover - no *at() calls (Windows)
                names = set(os.listdir(parent or os.curdir))
        except FileNotFoundError:
            if fd is not None:
                os.close(fd)
            continue
        except OSError as exc:
            if fd is not None:
                os.close(fd)
            raise os_error(exc, parent or os.curdir, "listing the checkpoint directory") from exc
        data_by_base = _data_by_base(names)
        stems = {n.split(".", 1)[0] for n in names}  # a prefix without any of these has no files here
        try:
            for i in members:
                if bases[i].split(".", 1)[0] not in stems:
                    continue
                for name in _checkpoint_names(bases[i], names, data_by_base, meta_graph_suffix):
                    path = os.path.join(parent, name)
                    try:
                        gone = ops.remove(path, dir_fd=fd, name=name)
                    except OSError as exc:
                        raise os_error(exc, path, "deleting an old checkpoint") from exc
                    if gone:
                        removed[i].append(path)
        finally:
            if fd is not None:
                os.close(fd)
    return removed


_ORPHAN_SUFFIX = re.compile(r"\.(?:index|data-\d{5,}-of-\d{5,}|meta)$")


def remove_orphans(directory, stems, *, listed=(), meta_graph_suffix: str | None = "meta",
                   min_age: float | None = None, ops=None) -> list[str]:
    """Finish deletions that a kill cut short: data and ``.meta`` files of numbered checkpoints
    (``STEM-N``, for each stem) that have no ``.index`` and that ``listed`` does not name
    (``listed``: prefixes, or a callable returning them, called only if there are candidates).

    Only this naming scheme, only directly in ``directory``, and only files whose newest
    modification is at least ``min_age`` seconds old (default :data:`STALE_TEMP_AGE`), so
    that a checkpoint another program is writing right now (data first, index last) is not
    taken for an orphan.  Returns the paths deleted.
    """
    directory = os.fspath(directory) or os.curdir
    age = STALE_TEMP_AGE if min_age is None else min_age
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    stem_re = re.compile("|".join(rf"{re.escape(s)}-\d+" for s in stems))
    groups: dict[str, list[str]] = {}
    for n in names:
        m = _ORPHAN_SUFFIX.search(n)
        if m is not None and stem_re.fullmatch(n[:m.start()]):
            groups.setdefault(n[:m.start()], []).append(n)
    orphans = [base for base, members in groups.items() if base + ".index" not in members]
    if not orphans:
        return []
    listed_bases = {os.path.basename(os.fspath(p)) for p in (listed() if callable(listed) else listed)}
    orphans = [base for base in orphans if base not in listed_bases]
    now = time.time()
    from .state import _Inside

    inside = _Inside(directory)
    old = []
    for base in orphans:
        try:
            newest = max(os.lstat(os.path.join(directory, n)).st_mtime for n in groups[base])
        except OSError:
            continue
        if now - newest >= age and inside(os.path.join(directory, base)):
            old.append(os.path.join(directory, base))
    return [p for paths in remove_checkpoints(old, meta_graph_suffix=meta_graph_suffix, directory=directory,
                                              ops=ops) for p in paths]


STALE_TEMP_AGE = 60.0  # seconds; younger temporary files may belong to a save still running


def remove_stale_temp_files(directory, stem: str, latest_filename: str = "checkpoint",
                            min_age: float | None = None, ops=None) -> list[str]:
    """Delete what killed saves of checkpoints named ``stem`` or ``stem-N`` left in ``directory``.

    Only our (and TensorFlow's) temporary names are touched: ``STEM[-N].index.tempstateHEX``,
    ``STEM[-N].data-SSSSS-of-NNNNN.tempstateHEX``, ``STEM[-N].meta.tmpPID``,
    ``STEM[-N].meta.tmpHEX``, ``STEM[-N].meta.tempstateHEX`` and ``LATEST.tmpHEX``, and
    only if older than ``min_age`` seconds (default :data:`STALE_TEMP_AGE`) so that a save
    still in progress elsewhere is left alone.  Readers ignore these files anyway: no state
    file or prefix ever names them.
    """
    from ..fileio import FileOps

    ops = ops or FileOps()
    directory = os.fspath(directory) or os.curdir
    age = STALE_TEMP_AGE if min_age is None else min_age
    pattern = re.compile(
        rf"^{re.escape(stem)}(-\d+)?\.(index|data-\d{{5,}}-of-\d{{5,}}|meta)\.tempstate[0-9a-f]+$"
        rf"|^{re.escape(stem)}(-\d+)?\.meta\.tmp(\d+|[0-9a-f]{{32}})$"
        rf"|^{re.escape(latest_filename)}\.tmp[0-9a-f]{{32}}$")
    now = time.time()
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if not pattern.match(name):
            continue
        path = os.path.join(directory, name)
        try:
            st = os.lstat(path)
            if now - st.st_mtime >= age and ops.remove(path):
                removed.append(path)
        except OSError:
            continue
    return removed


def get_checkpoint_mtimes(checkpoint_prefixes) -> list[float]:
    """Modification times (seconds) of the ``.index`` files of the checkpoints that exist.

    Like TensorFlow's, the list is shorter than the input when some are missing.
    """
    mtimes = []
    for prefix in checkpoint_prefixes:
        prefix = os.fspath(prefix)
        for candidate in (index_path(prefix), prefix):
            try:
                st = os.stat(candidate)
            except OSError:
                continue
            mtimes.append(st.st_mtime_ns / 1e9)
            break
    return mtimes
