"""Durable orchestrations and their activities: thin, deterministic adapters over the core."""
