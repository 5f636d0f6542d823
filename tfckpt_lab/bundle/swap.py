"""Putting a bundle at a prefix that may already hold one, without ever showing a mix of two saves.

A bundle is several files (``PREFIX.index`` and ``PREFIX.data-SSSSS-of-NNNNN``, plus companions
such as ``PREFIX.meta``), so replacing one cannot be a single atomic rename.  Names used, all in
the prefix's directory (``HEX`` is 16 random hex digits)::

    PREFIX.tfckpt-new-HEX.*    a complete new bundle, written there first; nothing names it
    PREFIX.tfckpt-old-HEX.*    the bundle PREFIX held before (hard links to its files), kept
                               while PREFIX is being replaced, deleted once that is done

Replacing PREFIX (:meth:`PrefixSwap.install`):

1. if ``PREFIX.index`` exists, link the old data shards and companions, and *last* the old index,
   to the backup prefix: a backup that has an ``.index`` is complete;
2. ``before_replace(backup)``: the caller points its state file at the backup, so what the
   state file names stays complete for the whole replacement;
3. delete ``PREFIX.index``: no reader can now open PREFIX, and a reader that opened the old index
   refuses to open a data shard (``BundleReader`` checks the index after opening a shard);
4. rename the new data shards, then the companions, then the new index into place (the index
   last: an ``.index`` at PREFIX always comes with its own data).

Then :meth:`PrefixSwap.finish` (after the caller has pointed its state file back at PREFIX)
deletes the backup, index first.  :meth:`PrefixSwap.rollback` undoes an unfinished install.

A process killed at any moment leaves one of the states below; :func:`recover_directory`
ends each the same way, however often it is itself interrupted:

* staging files: never visible to readers; deleted;
* a backup with no ``.index``: cut short while being made (PREFIX untouched) or while being
  deleted (PREFIX complete); deleted;
* a complete backup, and either ``PREFIX.index`` is missing or the caller's state file names the
  backup: rolled back (PREFIX restored from it, index removed first and restored last), then
  the state file is pointed back at PREFIX and the backup deleted;
* a complete backup otherwise: PREFIX is complete (old or new); the backup is deleted.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field

from ..fileio import FileOps
from .naming import DATA_SUFFIX_RE, TEMP_MARKER

__all__ = [
    "STAGE_MARK",
    "BACKUP_MARK",
    "new_staging_prefix",
    "new_backup_prefix",
    "BundleFiles",
    "bundle_files",
    "PrefixSwap",
    "restore_from_backup",
    "remove_bundle",
    "recover_directory",
    "marked_groups",
    "remove_stale_temps",
    "STALE_TEMP_AGE",
]

STAGE_MARK = ".tfckpt-new-"
BACKUP_MARK = ".tfckpt-old-"
_MARKED_RE = re.compile(r"^(?P<base>.+?)\.tfckpt-(?P<kind>new|old)-(?P<token>[0-9a-f]{16})(?P<rest>\..*)?$",
                        re.DOTALL)


def _token() -> str:
    return secrets.token_hex(8)


def new_staging_prefix(prefix) -> str:
    """A fresh ``PREFIX.tfckpt-new-HEX``: where a new bundle is written before it is put at PREFIX."""
    return f"{os.fspath(prefix)}{STAGE_MARK}{_token()}"


def new_backup_prefix(prefix) -> str:
    """A fresh ``PREFIX.tfckpt-old-HEX``: where the old bundle stays reachable during a replacement."""
    return f"{os.fspath(prefix)}{BACKUP_MARK}{_token()}"


@dataclass
class BundleFiles:
    """The files of one prefix found in a directory listing (full paths; None/empty if absent)."""

    prefix: str
    index: str | None = None
    data: list[str] = field(default_factory=list)
    companions: list[str] = field(default_factory=list)

    def suffix(self, path: str) -> str:
        return path[len(self.prefix):]

    def num_shards(self) -> set[int]:
        return {int(DATA_SUFFIX_RE.search(p).group(2)) for p in self.data}


def bundle_files(prefix, names=None, companions=()) -> BundleFiles:
    """Which of ``PREFIX.index``, ``PREFIX.data-*`` and ``PREFIX`` + each companion suffix exist.

    ``names``: the directory's listing, if the caller has one already.
    """
    prefix = os.fspath(prefix)
    directory, base = os.path.split(prefix)
    if names is None:
        names = os.listdir(directory or os.curdir)
    out = BundleFiles(prefix)
    n = len(base)
    for name in names:
        if not name.startswith(base):
            continue
        rest = name[n:]
        if rest == ".index":
            out.index = os.path.join(directory, name)
        elif rest.startswith(".data-") and DATA_SUFFIX_RE.fullmatch(rest):
            out.data.append(os.path.join(directory, name))
        elif rest in companions:
            out.companions.append(os.path.join(directory, name))
    out.data.sort()
    out.companions.sort()
    return out


def _same_file(a: str, b: str) -> bool:
    try:
        sa, sb = os.stat(a, follow_symlinks=False), os.stat(b, follow_symlinks=False)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def remove_bundle(files: BundleFiles, ops: FileOps, extra=()) -> None:
    """Delete a bundle's files: the index first (so it never names missing data), then the rest."""
    if files.index:
        ops.remove(files.index)
    for p in [*files.data, *files.companions, *extra]:
        ops.remove(p)


def _put(ops: FileOps, src: str, dst: str) -> None:
    """Make ``dst`` a copy (hard link) of ``src``, replacing ``dst`` in one rename."""
    if _same_file(src, dst):  # already (rename(2) onto another link of the same file does nothing)
        return
    tmp = f"{dst}{TEMP_MARKER}{_token()}"
    ops.link(src, tmp)
    try:
        ops.rename(tmp, dst)
    except BaseException:
        ops.remove(tmp)
        raise


def restore_from_backup(prefix, backup, ops: FileOps, companions=()) -> bool:
    """Put the complete bundle at ``backup`` back at ``prefix``; False if the backup has no index.

    Safe to repeat after an interruption: the index at ``prefix`` is removed first and restored
    last, and nothing is done when it already is the backup's index.  Data shards at ``prefix``
    with another shard count than the backup's (left by the new save) are deleted.
    """
    prefix, backup = os.fspath(prefix), os.fspath(backup)
    directory = os.path.dirname(prefix) or os.curdir
    names = os.listdir(directory)
    old = bundle_files(backup, names, companions)
    if old.index is None:
        return False
    index = prefix + ".index"
    if not _same_file(index, old.index):
        ops.remove(index)
        for src in [*old.data, *old.companions]:
            _put(ops, src, prefix + old.suffix(src))
        _put(ops, old.index, index)
    keep = old.num_shards()
    for p in bundle_files(prefix, names).data:
        if int(DATA_SUFFIX_RE.search(p).group(2)) not in keep:
            ops.remove(p)
    ops.fsync_dir(directory)
    return True


class PrefixSwap:
    """Install a new bundle at ``prefix`` as described in the module docstring.

    >>> import tempfile, os, numpy as np
    >>> from tfckpt_lab.bundle.writer import write_bundle
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "model")
    >>> _ = write_bundle(p, {"w": np.zeros(2)})
    >>> staged = new_staging_prefix(p); _ = write_bundle(staged, {"w": np.ones(2)})
    >>> swap = PrefixSwap(p); swap.install_staged(staged)
    >>> os.path.basename(swap.backup).startswith("model.tfckpt-old-")
    True
    >>> swap.finish(); sorted(os.listdir(d))
    ['model.data-00000-of-00001', 'model.index']
    """

    def __init__(self, prefix, *, companions=(), ops: FileOps | None = None):
        self.prefix = os.fspath(prefix)
        self.directory = os.path.dirname(self.prefix) or os.curdir
        self.companions = tuple(companions)
        self.ops = ops or FileOps()
        self.backup: str | None = None
        self._moved: list[str] = []   # final paths a new file has been renamed to
        self._pending: list[str] = []  # new files not yet moved
        self._started = False
        self._done = False

    def install_staged(self, staged_prefix, before_replace=None) -> None:
        """Move every file of the complete bundle at ``staged_prefix`` to the prefix, the index last.

        ``STAGED.data-*`` become ``PREFIX.data-*``, any other ``STAGED.SUFFIX`` (a ``.meta``...)
        ``PREFIX.SUFFIX``, and ``STAGED.index`` ``PREFIX.index``.
        """
        staged_prefix = os.fspath(staged_prefix)
        directory, base = os.path.split(staged_prefix)
        names = os.listdir(directory or os.curdir)
        new = bundle_files(staged_prefix, names)
        if new.index is None:
            raise FileNotFoundError(f"{staged_prefix}.index: the staged bundle has no index")
        others = sorted(os.path.join(directory, n) for n in names
                        if n.startswith(base + ".") and os.path.join(directory, n) not in (new.index, *new.data))
        moves = [(p, self.prefix + new.suffix(p)) for p in [*new.data, *others]]
        self.install(moves, (new.index, self.prefix + ".index"), before_replace)

    def install(self, moves, index_move, before_replace=None) -> None:
        """Rename ``moves`` (data shards, then companions: ``(src, dst)`` pairs) and then ``index_move``.

        Before the first rename, an existing bundle at the prefix is backed up, ``before_replace``
        is called with the backup's prefix, and the old index is deleted.
        """
        ops = self.ops
        self._pending = [src for src, _ in moves] + [index_move[0]]
        self._started = True
        old = bundle_files(self.prefix, None, self.companions)
        if old.index is not None:
            self.backup = new_backup_prefix(self.prefix)
            for src in [*old.data, *old.companions, old.index]:  # the index last: then it is complete
                ops.link(src, self.backup + old.suffix(src))
            ops.fsync_dir(self.directory)
            if before_replace is not None:
                before_replace(self.backup)
            ops.remove(old.index)
        for src, dst in [*moves, index_move]:
            self._moved.append(dst)  # first: an error reported after the rename must still undo it
            ops.rename(src, dst)
            self._pending.remove(src)
        ops.fsync_dir(self.directory)

    def finish(self) -> None:
        """Delete the backup (call once the state file names the prefix again).

        The replacement is complete from here on: :meth:`rollback` no longer undoes it, and a
        backup that cannot be deleted now is deleted by a later :func:`recover_directory`.
        """
        self._done = True
        if self.backup is not None:
            remove_bundle(bundle_files(self.backup, None, self.companions), self.ops)
            self.backup = None

    def rollback(self, after_restore=None) -> None:
        """Undo an unfinished :meth:`install`: the old bundle (or nothing) is back at the prefix.

        ``after_restore(backup)`` runs once the old bundle is back and before its backup is
        deleted (the caller points its state file back at the prefix there).
        """
        if self._done or not self._started:
            return
        ops = self.ops
        for src in self._pending:
            ops.remove(src)
        if self.backup is not None:
            restore_from_backup(self.prefix, self.backup, ops, self.companions)
            if after_restore is not None:
                after_restore(self.backup)
            self.finish()
            return
        else:
            index = self.prefix + ".index"
            if index in self._moved:  # the index first, as always
                ops.remove(index)
            for p in self._moved:
                ops.remove(p)
        self._done = True


#: Temporary files younger than this (seconds) may belong to a write still running elsewhere.
STALE_TEMP_AGE = 60.0


def remove_stale_temps(prefix, ops: FileOps, min_age: float | None = None) -> list[str]:
    """Delete ``PREFIX.index.tempstateHEX`` and ``PREFIX.data-*.tempstateHEX`` left by killed writes,
    and backups of PREFIX that have no index (a kill cut their making or deleting short).

    Only files older than ``min_age`` seconds (default :data:`STALE_TEMP_AGE`): temporary
    files by mtime, backup files by ctime (when their link was made).  Complete backups are
    left to :func:`recover_directory`, which knows the state file.
    """
    import time

    prefix = os.fspath(prefix)
    directory, base = os.path.split(prefix)
    age = STALE_TEMP_AGE if min_age is None else min_age
    pattern = re.compile(re.escape(base) + r"\.(index|data-\d{5,}-of-\d{5,})" + re.escape(TEMP_MARKER) + r"[0-9a-f]+")
    now, removed = time.time(), []
    try:
        names = os.listdir(directory or os.curdir)
    except OSError:
        return removed
    for name in names:
        if pattern.fullmatch(name):
            path = os.path.join(directory, name)
            try:
                if now - os.lstat(path).st_mtime >= age and ops.remove(path):
                    removed.append(path)
            except OSError:
                continue
    for (kind, target, token), group in marked_groups(names).items():
        if kind != "old" or target != base or f"{base}{BACKUP_MARK}{token}.index" in group:
            continue
        paths = [os.path.join(directory, n) for n in group]
        try:
            if now - max(os.lstat(p).st_ctime for p in paths) < age:
                continue
            removed += [p for p in paths if ops.remove(p)]
        except OSError:
            continue
    return removed


def marked_groups(names) -> dict[tuple[str, str, str], list[str]]:
    """Group a directory's staging/backup file names: ``(kind, target base name, token) -> names``.

    ``kind`` is ``"new"`` (staging) or ``"old"`` (backup).  Temporary files of those prefixes
    (``...tfckpt-new-HEX.index.tempstateHEX``) belong to their group.
    """
    groups: dict[tuple[str, str, str], list[str]] = {}
    for name in names:
        m = _MARKED_RE.match(name)
        if m is not None:
            groups.setdefault((m["kind"], m["base"], m["token"]), []).append(name)
    return groups


def recover_directory(directory, *, ops: FileOps | None = None, companions=(), names_backup=None,
                      repoint=None, names=None) -> list[tuple[str, str]]:
    """Finish or undo what interrupted replacements left in ``directory``; return ``(action, prefix)``.

    Only for a directory no other writer is using (the caller holds its lock).
    ``names_backup(backup_prefix) -> bool``: does the caller's state file name it?
    ``repoint(backup_prefix, prefix)``: make the state file name ``prefix`` instead.
    """
    directory = os.fspath(directory) or os.curdir
    ops = ops or FileOps()
    if names is None:
        names = os.listdir(directory)
    done = []
    for (kind, base, token), group in sorted(marked_groups(names).items()):
        prefix = os.path.join(directory, base)
        marked = f"{prefix}.tfckpt-{kind}-{token}"
        files = bundle_files(marked, group, companions)
        if kind == "new":
            action = "removed unfinished new save"
        elif files.index is None:
            action = "removed partial backup"
        elif (not os.path.exists(prefix + ".index")) or (names_backup is not None and names_backup(marked)):
            restore_from_backup(prefix, marked, ops, companions)
            if repoint is not None:
                repoint(marked, prefix)
            action = "rolled back to backup"
        else:
            action = "removed backup of a completed save"
        listed = {files.index, *files.data, *files.companions}
        remove_bundle(files, ops, [os.path.join(directory, n) for n in group
                                   if os.path.join(directory, n) not in listed])
        done.append((action, prefix))
    return done
