"""Domain events of the organisation (blinker signals, sent inside the transaction)."""
from blinker import Namespace

_signals = Namespace()

#: people were added, moved to another unit, reactivated, given a role or a concurrent post:
#: sender=None, session=..., user_ids=[...]. Receivers (assignments) enrol newcomers to
#: targeted training and move their records with them, in the same transaction.
people_placed = _signals.signal("people-placed")
