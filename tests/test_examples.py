"""The course's Step 1 and Step 2 programs print exactly what the course text expects."""

import subprocess
import sys

STATELESS = """\
User: Ravi, Result: 6000
User: Meena, Result: 4000
User: Ravi, Result: 6000 (consistent)
"""

STATEFUL = """\
Initial balance: 1000
After adding 500: 1500
After adding 300: 1800

Note: This pattern doesn't scale well across multiple pods!
"""


def run_module(name):
    return subprocess.run([sys.executable, "-m", name], capture_output=True, text=True, check=True).stdout


def test_stateless_example_output():
    assert run_module("finpay_lab.examples.stateless") == STATELESS


def test_stateful_example_output():
    assert run_module("finpay_lab.examples.stateful") == STATEFUL
