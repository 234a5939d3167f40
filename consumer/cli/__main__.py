"""``python -m consumer.cli`` is the same as the ``runledger`` command."""

from consumer.cli.app import main

main()
