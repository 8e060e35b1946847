# The zipapp's entry (packaging/zipapp/pack.py lays the archive out): serves the client and the
# container init straight from the archive, and hands only the daemon to shiv's bootstrap.
#
# shiv's bootstrap imports zipfile, pathlib, hashlib, subprocess and compileall and checks its cache of
# the extracted libraries on every start: ~40 ms before `docker version` does anything. The client and
# the init need nothing outside the standard library and lxc_docker, whose modules the archive carries
# as precompiled, unchecked-hash .pyc files: zipimport loads those without decompressing, compiling or
# looking at a cache. The daemon needs requests and pyroute2 from real files (and may one day need
# compiled extensions), so it keeps shiv's extraction and its cache.
#
# Written for any Python 3: an interpreter too old for lxc-docker must reach the message below.
import sys

if sys.version_info < (3, 11):  # noqa: UP036 (this runs on any Python 3)
    sys.stderr.write(
        "docker: lxc-docker's zipapp needs Python 3.11 or newer; "
        + sys.executable
        + " is "
        + sys.version.split()[0]
        + ".\nInstall the one-file binary instead (get.sh does so on its own when python3 is too old).\n"
    )
    sys.exit(1)

# Filled in by pack.py: the interpreter the .pyc files were compiled for. Another version (3.12 on a
# newer distribution) could not use them; it takes shiv's path instead, which compiles once into
# its cache.
CACHE_TAG = "@CACHE_TAG@"
# pack.py's layout: lxc_docker's .pyc files under LITE, shiv's own archive as the member SHIV.
LITE = "lite"
SHIV = "shiv.pyz"


def _wants_daemon(args):
    # The same global flag parser main() uses, so `-d`, `--daemon`, `-d=true`, `-D -d` all count.
    # Whatever it rejects is the client's to report.
    from lxc_docker.cli.main import global_flags

    try:
        opts, _ = global_flags().parse(args)
    except Exception:
        return False
    return bool(opts.daemon)


def _shiv(archive):
    # shiv's bootstrap reads the archive it runs from; here that is the member SHIV (stored, so
    # read as is), named after this file so that its cache directory keeps the name it always had.
    import io
    import zipfile
    from contextlib import contextmanager

    import _bootstrap

    with zipfile.ZipFile(archive) as outer:
        inner = zipfile.ZipFile(io.BytesIO(outer.read(SHIV)))
    inner.filename = archive

    @contextmanager
    def current_zipfile():
        with inner:
            yield inner

    _bootstrap.current_zipfile = current_zipfile
    _bootstrap.bootstrap()


def archive_of(member):
    # The archive's path from one of its members' __file__; Windows' zipimport names it with
    # backslashes (C:\Users\me\docker.pyz\__main__.py), every other system with slashes.
    cut = max(member.rfind("/"), member.rfind("\\"))
    return member[:cut]


def _main():
    archive = archive_of(__file__)
    lite = archive + __file__[len(archive)] + LITE
    args = sys.argv[1:]
    if sys.implementation.cache_tag == CACHE_TAG:
        sys.path.insert(0, lite)
        if args[:1] == ["init"] or not _wants_daemon(args):
            from lxc_docker.main import main

            sys.exit(main())
        # The daemon imports lxc_docker again from shiv's extracted copy, beside its dependencies, so
        # that its own re-executions (the container init) run from real files.
        sys.path.remove(lite)
        for name in [n for n in sys.modules if n == "lxc_docker" or n.startswith("lxc_docker.")]:
            del sys.modules[name]
    _shiv(archive)


_main()
