"""The course's two starting programs, in Python, with the same output as the Go originals.

python -m finpay_lab.examples.stateless
python -m finpay_lab.examples.stateful
"""
