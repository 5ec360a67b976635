"""The runtime: a pretend Kubernetes on one machine.

``lab`` (the cluster a notebook holds), ``loop`` (the lab's event loop: requests out,
replies in, pods that exit), ``runner`` (one ``lab.run``), ``replicas`` (scaling),
``shutdown`` (nothing outlives the lab), ``pods`` (a pod is a process), ``pod_loop`` (what
runs inside one), ``guardian`` (who cleans up after a killed lab), ``wire`` (how a request
crosses the pipe), ``balancer`` (which pod gets it), ``app`` (your handlers, and what an app
declares to the runtime), ``history`` (what happened), ``faults`` (what a run asks of a
chaos fault), ``arguments`` (checks on what a notebook passes in), ``store_kinds`` (the
stores ``stores/`` registers) and ``names`` (pod names).

The lowest layer: it imports nothing from ``stores``, ``services``, ``experiments`` or
``views`` (tests/test_layers.py checks). It asks instead: the app for what ``App``
declares, the registry in ``store_kinds`` for its stores.
"""
