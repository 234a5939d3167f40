"""The ``runledger`` command line."""

from consumer.cli.app import app, main

__all__ = ["app", "main"]
