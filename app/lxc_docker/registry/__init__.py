"""Docker's image distribution: the registry client (pull, push, login, search) and `server/`, the
registry and index the same program serves (`docker registry`)."""
