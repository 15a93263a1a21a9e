"""Webhooks: subscriptions to a person's recording events, and their deliveries."""
