"""Domain events of the certificates domain (blinker signals, sent inside the transaction).

Receivers (webhooks) run in the same transaction as the issue or the revocation, so what
they queue is committed, or rolled back, with it.
"""
from blinker import Namespace

_signals = Namespace()

#: sent once per new certificate (issued on completion, by a bulk job, or by a reissue):
#: sender=None, session=..., certificate=...
certificate_issued = _signals.signal("certificate-issued")

#: sent when a certificate is revoked: sender=None, session=..., certificate=...
certificate_revoked = _signals.signal("certificate-revoked")
