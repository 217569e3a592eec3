"""Durable Functions for the local runtime: task hub storage, orchestration replay, activities, client API."""
