"""Subcommands of the ``bnlab`` command line (see :mod:`bnlab.cli`)."""
