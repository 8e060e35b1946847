"""Runs in the zipapp before lxc_docker itself: refuses a Python too old for it, with a clear message.

The zipapp names /usr/bin/python3 in its shebang, and that is 3.9 on Debian 11 or 3.10 on Ubuntu 22.04;
without this check such a host would get a traceback from deep inside the daemon instead.
"""

import sys

if sys.version_info < (3, 11):
    sys.stderr.write(
        "docker: lxc-docker's zipapp needs Python 3.11 or newer; "
        f"{sys.executable} is {sys.version.split()[0]}.\n"
        "Install the one-file binary instead (get.sh does so on its own when python3 is too old).\n"
    )
    sys.exit(1)
