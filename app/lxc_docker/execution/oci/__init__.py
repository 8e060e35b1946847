"""The OCI execution driver: containers run by an OCI runtime (runc, crun) from a bundle's config.json.

`spec` builds the config.json, `runtime` calls the runtime's command line, `console` carries a tty,
`driver` implements the ExecDriver protocol. Nothing is imported at load time.
"""
