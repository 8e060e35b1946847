import sys

from lxc_docker.main import main

sys.exit(main())
