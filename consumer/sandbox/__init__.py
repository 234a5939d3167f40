"""Everything around the consumer that is not on its production path.

``runledger run`` never imports this package. It holds what the demo, the benchmark,
the docs and the test suite need on one machine:

* ``embedded``, ``kafka_server``, ``neo4j_server``, ``maven``: engines started on
  127.0.0.1 (Tansu and FalkorDB from PyPI, Apache Kafka and Neo4j from Maven Central);
* ``stream``: the generator of realistic telemetry and the totals it must give;
* ``demo``: ``runledger demo``'s job on the embedded engines, and its summary;
* ``bench``: ``runledger bench``'s measurements;
* ``config_reference``: the configuration reference, generated from the settings.
"""
