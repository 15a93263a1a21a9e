"""Infrastructure: the adapters behind the domain ports, configuration and wiring."""
