"""A folder of generated static files served by name: the request path is looked up in the list of files
the folder holds (walked again whenever its index page changes), so no client text is ever joined to a
path on disk and nothing outside the folder, no hidden file and no unlisted type can be reached."""

from __future__ import annotations

import mimetypes
import os
import threading
from pathlib import Path

SERVED_SUFFIXES = frozenset({".html", ".css", ".png", ".gif", ".svg", ".ico", ".otf", ".woff", ".woff2"})


class StaticSite:
    """The servable files under `root`, listed by their relative POSIX paths."""

    def __init__(self, root: Path, index: str = "index.html"):
        self.root = Path(root)
        self.index = index
        self._stamp: tuple[int, int] | None = None
        self._files: dict[str, Path] = {}
        self._lock = threading.Lock()

    def find(self, relative: str) -> Path | None:
        """The file served as `relative` (e.g. `validations/x/y.html`), or None if there is no such file."""
        return self._listing().get(relative)

    @staticmethod
    def media_type(path: Path) -> str:
        """The Content-Type of a served file."""
        guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed

    def _listing(self) -> dict[str, Path]:
        try:
            stat = (self.root / self.index).stat()
        except FileNotFoundError:
            return {}
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._files = _walk(self.root)
                self._stamp = stamp
            return self._files


def _walk(root: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for folder, dirs, names in os.walk(root):  # symlinks to folders are not followed
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = Path(folder) / name
            if name.startswith(".") or path.suffix.lower() not in SERVED_SUFFIXES or path.is_symlink():
                continue
            files[path.relative_to(root).as_posix()] = path
    return files
