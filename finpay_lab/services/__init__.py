"""The FinPay app: ``finpay`` (payments, sessions, fraud check), ``ledger`` (the books:
a payment in one indivisible step, one implementation per store), ``auth`` (signed
tokens), ``notifications`` (the SMS queue, worker and gateway) and ``audit`` (what was lost).

Imports ``stores`` and ``runtime``, never ``experiments`` or ``views``.
"""
