"""A local emulator of the Azure Functions host for Python v2 apps.

It loads an app's `FunctionApp`/`DFApp` object exactly as the Functions Python worker does and drives its
triggers (HTTP, durable client, orchestration, activity, blob, timer, queue) against real Azure Storage,
normally Azurite. The product never imports this package: it exists for local work and tests.
"""
