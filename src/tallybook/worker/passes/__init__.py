"""The kinds of background work a worker pass does, one module each.

A pass claims its due rows in batches with a lease (``kit.leases``), hands each batch to
its domain's flow and returns what it did; ``worker.loop.Worker.run_pass`` runs them one
after the other. A new kind of background work (say, report exports) is one more module
here calling its domain's flow, and one more line in ``run_pass``.
"""
