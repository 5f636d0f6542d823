"""What makes one save of a :class:`~tfckpt_lab.Saver` or :class:`~tfckpt_lab.CheckpointManager` safe.

A save runs as one transaction in its directory::

    take the directory lock (.tfckpt_lab.lock; a second writer gets ConcurrentWriterError)
    check that the state file is still what this writer last read or wrote
    recover: finish or undo what killed saves left (bundle/swap.py), remove their temporary
             files, finish interrupted rotations (data/.meta of checkpoints without an index)
    write the new checkpoint completely under PREFIX.tfckpt-new-HEX (bundle, then .meta)
    put it at PREFIX (bundle/swap.py: an old checkpoint there is backed up, and the state
             file points at the backup until the new one is complete)
    write the state file naming PREFIX; delete the backup; rotate
    release the lock (the lock file is removed)

Any failure before the state file names the new checkpoint undoes everything: the old
checkpoint is back at PREFIX, the state file is as it was, no file of the new save is left.
"""

from __future__ import annotations

import os
import stat
import warnings

from ..bundle.swap import PrefixSwap, bundle_files, marked_groups, new_staging_prefix, recover_directory
from ..errors import CheckpointError, ConcurrentWriterError, UnsafePathError, os_error
from ..fileio import FileOps, atomic_write_bytes
from .files import remove_orphans, remove_stale_temp_files
from .state import (
    _file_signature,
    _read_state_file,
    read_checkpoint_state,
    repoint_checkpoint_state,
    state_names,
)

__all__ = ["LOCK_FILENAME", "DirectoryLock", "StateWatch", "SaveTransaction", "recover_save_directory"]

#: The lock file a save holds in its directory (removed when the save ends; TensorFlow ignores it).
LOCK_FILENAME = ".tfckpt_lab.lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, the state-file check still applies
    fcntl = None


class DirectoryLock:
    """An exclusive, non-blocking ``flock`` on ``DIRECTORY/.tfckpt_lab.lock`` for one save.

    The kernel releases it when the holder dies, so a killed save never blocks the next one.
    The holder deletes the file before unlocking; whoever locks checks that the file it
    locked is still the one at the path (else it retries), so a lock taken on a file that
    was just deleted does not count.  Where ``fcntl`` is missing (Windows) it does nothing.
    """

    def __init__(self, directory):
        self.directory = os.fspath(directory) or os.curdir
        self.path = os.path.join(self.directory, LOCK_FILENAME)
        self._fd = None

    def acquire(self, *, wait_free: bool = True) -> bool:
        """Take the lock; if another writer holds it, raise (or return False with ``wait_free=False``)."""
        if fcntl is None:
            return True
        flags = (os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
                 | getattr(os, "O_NONBLOCK", 0))
        for _ in range(100):
            try:
                fd = os.open(self.path, flags, 0o644)
            except OSError as exc:
                raise os_error(exc, self.path, "creating the directory's lock file") from exc
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise UnsafePathError("the lock file is not a regular file", path=self.path)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if not wait_free:
                        os.close(fd)
                        return False
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                    raise ConcurrentWriterError(
                        "another writer is saving into this directory right now"
                        + (f" (process {holder})" if holder.isdigit() else "")
                        + "; two writers in one directory overwrite and delete each other's checkpoints",
                        path=self.directory) from None
                try:
                    now = os.stat(self.path, follow_symlinks=False)
                except FileNotFoundError:
                    now = None
                if now is None or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                    os.close(fd)  # we locked a file its holder had just deleted: try again
                    continue
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except BaseException:
                try:
                    os.close(fd)
                except OSError:
                    pass
                raise
            self._fd = fd
            return True
        raise ConcurrentWriterError("could not take the directory's lock", path=self.path)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.remove(self.path)  # while still holding it: see the class docstring
        except OSError:
            pass
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


class StateWatch:
    """Remembers the state files a writer last read or wrote, to notice a second writer.

    :meth:`check` raises :class:`~tfckpt_lab.errors.ConcurrentWriterError` if a state file
    this writer knows now holds other bytes.  A state file that has disappeared is not an
    error (someone cleaned up; the next save writes a new one).
    """

    def __init__(self):
        self._seen: dict[str, tuple[object, bytes | None]] = {}

    @staticmethod
    def _key(path) -> str:
        return os.path.realpath(os.fspath(path))

    @staticmethod
    def _content(path) -> bytes | None:
        """A digest of the state file's bytes (None if there is none)."""
        import hashlib

        try:
            data = _read_state_file(os.fspath(path)).encode("utf-8")
        except FileNotFoundError:
            return None
        except Exception:  # noqa: BLE001 - unreadable now: it is not what we wrote
            return b"\0unreadable"
        return hashlib.blake2b(data, digest_size=32).digest()

    def remember(self, path) -> None:
        sig = _file_signature(os.fspath(path))
        self._seen[self._key(path)] = (sig, self._content(path) if sig is not None else None)

    def forget(self) -> None:
        self._seen.clear()

    def check(self, path, who: str) -> None:
        key = self._key(path)
        if key not in self._seen:
            return
        old_sig, old_content = self._seen[key]
        sig = _file_signature(os.fspath(path))
        if sig is None or sig == old_sig:
            return
        content = self._content(path)
        if content == old_content:
            self._seen[key] = (sig, content)
            return
        raise ConcurrentWriterError(
            f"the checkpoint state file changed since this {who} last read or wrote it: another writer "
            "saved into this directory; two writers in one directory overwrite and delete each other's "
            f"checkpoints (use one writer per directory; a new {who} takes the directory over)",
            path=os.fspath(path))


_UNREADABLE = object()


def _state_bytes(path: str):
    """The state file's bytes; None if there is none; ``_UNREADABLE`` if it is not a usable file."""
    try:
        return _read_state_file(path).encode("utf-8")
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a FIFO, a directory, undecodable bytes...
        return _UNREADABLE


def recover_save_directory(directory, *, state_path, stems, meta_graph_suffix=None, ops=None) -> list:
    """Clean up after killed saves in ``directory`` (the caller holds its lock); returns what was done.

    Interrupted replacements are finished or undone (:func:`~tfckpt_lab.bundle.swap.recover_directory`,
    using the state file at ``state_path``), temporary files of killed saves are removed
    (:func:`~.files.remove_stale_temp_files`), and data/``.meta`` files of checkpoints named
    ``STEM-N`` with no index that the state file does not list are deleted
    (:func:`~.files.remove_orphans`).
    """
    directory = os.fspath(directory) or os.curdir
    ops = ops or FileOps()
    companions = (f".{meta_graph_suffix}",) if meta_graph_suffix else ()
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    done = []
    if marked_groups(names):
        done += recover_directory(
            directory, ops=ops, companions=companions, names=names,
            names_backup=lambda b: state_names(state_path, b),
            repoint=lambda b, p: repoint_checkpoint_state(state_path, b, p, durable=ops.durable, ops=ops))
    latest_filename = os.path.basename(state_path)
    for stem in stems:
        done += [("removed temporary file", p) for p in
                 remove_stale_temp_files(directory, stem, latest_filename, ops=ops)]

    def listed():
        try:
            st = read_checkpoint_state(state_path)
        except Exception:  # noqa: BLE001 - no usable state: it lists nothing
            return []
        return [st.model_checkpoint_path, *st.all_model_checkpoint_paths]

    try:
        done += [("finished interrupted deletion", p) for p in
                 remove_orphans(directory, stems, listed=listed, meta_graph_suffix=meta_graph_suffix, ops=ops)]
    except CheckpointError as exc:  # e.g. a directory where a data file was: leave it, save anyway
        warnings.warn(f"could not finish an interrupted deletion: {exc}", RuntimeWarning, stacklevel=3)
    return done


class SaveTransaction:
    """One save into ``directory``: lock, check, recover, stage, install, commit or undo.

    Used by :class:`~tfckpt_lab.Saver` and :class:`~tfckpt_lab.CheckpointManager`::

        with SaveTransaction(directory, prefix, state_path=..., ...) as tx:
            write the checkpoint at tx.staged (bundle + companions)
            tx.install()
            write the state file naming prefix (tx.ops sees it)
            tx.commit()          # the save is complete: the backup goes
        # rotation follows, outside the transaction's undo

    Leaving the ``with`` block by an exception before :meth:`commit` undoes the save.
    """

    def __init__(self, directory, prefix, *, state_path, watch: StateWatch, who: str, stems,
                 meta_graph_suffix=None, ops: FileOps):
        self.directory = os.fspath(directory) or os.curdir
        self.prefix = os.fspath(prefix)
        self.state_path = os.fspath(state_path)
        self.watch = watch
        self.who = who
        self.stems = stems
        self.meta_graph_suffix = meta_graph_suffix
        self.companions = (f".{meta_graph_suffix}",) if meta_graph_suffix else ()
        self.ops = ops
        self.lock = DirectoryLock(self.directory)
        self.staged = new_staging_prefix(self.prefix)
        self.swap = PrefixSwap(self.prefix, companions=self.companions, ops=ops)
        self.committed = False
        self.recovered: list = []

    def __enter__(self):
        self.lock.acquire()
        try:
            self.watch.check(self.state_path, self.who)
            self.recovered = recover_save_directory(
                self.directory, state_path=self.state_path, stems=self.stems,
                meta_graph_suffix=self.meta_graph_suffix, ops=self.ops)
            if self.recovered:
                self.watch.remember(self.state_path)
            self._state_before = _state_bytes(self.state_path)
        except BaseException:
            self.lock.release()
            raise
        return self

    def install(self) -> None:
        """Put the staged checkpoint at the prefix (backing up and repointing the state file)."""
        self.swap.install_staged(self.staged, before_replace=self._point_state_at)

    def _point_state_at(self, backup: str) -> None:
        repoint_checkpoint_state(self.state_path, self.prefix, backup, durable=self.ops.durable, ops=self.ops)

    def commit(self) -> None:
        """The state file names the new checkpoint: point any backup reference back, drop the backup."""
        self.committed = True
        if self.swap.backup is not None:
            repoint_checkpoint_state(self.state_path, self.swap.backup, self.prefix,
                                     durable=self.ops.durable, ops=self.ops)
        self.watch.remember(self.state_path)
        try:
            self.swap.finish()
        except OSError as exc:  # the save is complete; the next save's recovery deletes the backup
            warnings.warn(f"could not delete the backup {self.swap.backup}: {exc}", RuntimeWarning, stacklevel=3)

    def _restore_state(self, ops: FileOps) -> None:
        """Put the state file back as it was when the save started (nobody else wrote it: we hold the lock)."""
        before = self._state_before
        if before is _UNREADABLE or _state_bytes(self.state_path) == before:
            return
        if before is None:
            ops.remove(self.state_path)
        else:
            atomic_write_bytes(self.state_path, before, durable=ops.durable, ops=ops)

    def _undo(self) -> None:
        ops = self.ops.tolerant()
        self.swap.ops = ops
        try:
            self.swap.rollback(after_restore=lambda b: self._restore_state(ops))
            self._restore_state(ops)
        finally:
            directory, base = os.path.split(self.staged)
            try:
                names = os.listdir(directory or os.curdir)
            except OSError:
                names = []
            staged = bundle_files(self.staged, names, self.companions)
            leftovers = [os.path.join(directory, n) for n in names if n.startswith(base)]
            if staged.index:
                ops.remove(staged.index)
            for p in leftovers:
                ops.remove(p)
            self.watch.remember(self.state_path)

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is not None and not self.committed:
                try:
                    self._undo()
                except OSError:  # left for the next save's recovery
                    pass
        finally:
            self.lock.release()
        return False
