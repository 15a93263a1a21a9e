"""Read models built from the event log, and the projections that maintain them."""
