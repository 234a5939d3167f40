"""What the tests share, one module per subject.

``events`` builds events and streams (one builder, the example run, ``consumer.sandbox.stream``
for streams); ``kafka`` creates topics, produces, reads topics back and reads committed
offsets; ``postgres`` and ``graph`` read what a sink wrote; ``reference`` checks a sink
against the reference model; ``pipelines`` runs the real pipelines in the test's process;
``processes`` runs ``runledger`` as a user would, and cuts connections; ``waiting`` polls
with a deadline; ``fakes`` stands in for Kafka in unit tests of pure logic;
``strategies`` are hypothesis' strategies of valid runs.
"""
