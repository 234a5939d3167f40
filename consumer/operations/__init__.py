"""What operators run beside the consumer, on the same settings and clients.

Reading a topic to its end without a group (``topic_reader``), listing and replaying
dead letters (``replay``, behind ``runledger dlq``), checking that the sinks agree run by
run (``reconcile``, behind ``runledger reconcile``), and showing runs to people
(``display``). The running consumer never imports this package.
"""
