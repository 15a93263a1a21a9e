"""The ovoz domain: aggregates, their events and errors, and the use cases."""
