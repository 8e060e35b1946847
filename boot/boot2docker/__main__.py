"""`python -m boot2docker`."""

from boot2docker.cli import main

main()
