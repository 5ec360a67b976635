"""The runtime: a pretend Kubernetes on one machine.

``lab`` (the cluster a notebook holds), ``loop`` (the lab's event loop: requests out,
replies in, pods that exit), ``pods`` (a pod is a process), ``pod_loop`` (what runs
inside one), ``guardian`` (who cleans up after a killed lab), ``wire`` (how a request crosses
the pipe), ``balancer`` (which pod gets it), ``app`` (your handlers), ``history`` (what
happened), ``faults`` (what a run asks of a chaos fault) and ``arguments`` (checks on
what a notebook passes in).

The lowest layer: it imports nothing from ``stores``, ``services``, ``experiments`` or
``views`` (tests/test_layers.py checks, and lists the imports that still break the rule).
"""
