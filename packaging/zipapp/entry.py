# The zipapp's __main__ (packaging/zipapp/pack.py puts it in place of shiv's): serves the client and the
# container init straight from the archive, and hands only the daemon to shiv's bootstrap.
#
# shiv's bootstrap imports zipfile, pathlib, hashlib, subprocess and compileall and checks its cache of
# the extracted libraries on every start: ~40 ms before `docker version` does anything. The client and
# the init need nothing outside the standard library and lxc_docker, whose modules the archive carries
# as precompiled, unchecked-hash .pyc files beside their sources: zipimport loads those without
# decompressing, compiling or looking at the cache. The daemon needs requests and pyroute2 from real
# files (and may one day need compiled extensions), so it keeps shiv's extraction and its cache.
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
# newer distribution) would find them stale and compile every module from source on every start;
# it takes shiv's path instead, which compiles once into the cache.
CACHE_TAG = "@CACHE_TAG@"
LIBS = "site-packages"


def _wants_daemon(args):
    # The same global flag parser main() uses, so `-d`, `--daemon`, `-d=true`, `-D -d` all count.
    # Whatever it rejects is the client's to report.
    from lxc_docker.cli.main import global_flags

    try:
        opts, _ = global_flags().parse(args)
    except Exception:
        return False
    return bool(opts.daemon)


def _main():
    archive = __file__.rpartition("/")[0]
    libs = archive + "/" + LIBS
    args = sys.argv[1:]
    if sys.implementation.cache_tag == CACHE_TAG:
        sys.path.insert(0, libs)
        if args[:1] == ["init"] or not _wants_daemon(args):
            from lxc_docker.main import main

            sys.exit(main())
        # The daemon imports lxc_docker again from shiv's extracted copy, beside its dependencies, so
        # that its own re-executions (the container init) run from real files.
        sys.path.remove(libs)
        for name in [n for n in sys.modules if n == "lxc_docker" or n.startswith("lxc_docker.")]:
            del sys.modules[name]
    import _bootstrap

    _bootstrap.bootstrap()


_main()
