"""The zipapp's entry finds its own archive from `__file__` on Windows too (issue 14: the client on
Windows), where zipimport names members with backslashes."""

from __future__ import annotations

import ast
import os

from lib.daemon import REPO


def archive_of():
    # entry.py runs its launcher when imported; only its archive_of function is loaded here.
    path = os.path.join(REPO, "packaging", "zipapp", "entry.py")
    with open(path) as f:
        tree = ast.parse(f.read())
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "archive_of")
    namespace: dict = {}
    exec(compile(ast.Module(body=[func], type_ignores=[]), path, "exec"), namespace)
    return namespace["archive_of"]


def test_archive_of_posix_and_windows_members():
    find = archive_of()
    assert find("/usr/local/bin/docker/__main__.py") == "/usr/local/bin/docker"
    assert find("C:\\Users\\me\\bin\\docker.pyz\\__main__.py") == "C:\\Users\\me\\bin\\docker.pyz"
    assert find("C:/Users/me/docker.pyz/__main__.py") == "C:/Users/me/docker.pyz"
