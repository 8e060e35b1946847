"""Registries: the client side of pull, push and login (v2 protocol) and, under server/, our own registry."""
