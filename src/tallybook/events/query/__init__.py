"""The event query language (DESIGN §4), engine-neutral.

``language`` validates queries into typed objects, ``plan`` resolves one fetch and shapes
its answer (``results``), ``render`` writes the SQL with sqlglot, asking ``dialects`` for
what differs between engines; ``zones`` does the time-zone arithmetic for buckets and
``columns`` lists the event table's columns.
"""
