"""PyInstaller's entry script: the same entry point as the console script and the zipapp."""

import sys

from lxc_docker.main import main

sys.exit(main())
