"""The FinPay app: ``finpay`` (payments, sessions, fraud check), ``auth`` (signed tokens),
``notifications`` (the SMS queue, worker and gateway) and ``audit`` (what was lost).

Imports ``stores`` and ``runtime``, never ``experiments`` or ``views``.
"""
