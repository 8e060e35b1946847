"""`docker registry`: a v1 registry (standalone or with the Index API) and a v2 (OCI distribution)
registry over one file-system store. Imports only the leaves and `sysutil`; it has its own small
threaded HTTP server because `api` sits above the registry layer (see docs/registry.md)."""
