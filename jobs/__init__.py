"""The job engine: a scoring job's record and status, the plan of its mini-batches, running them in scoring
processes, its outputs and logs, and its lifecycle from prepare to finish. It depends on the registry (what a
job refers to) and on `scoring/`; nothing here imports Azure Functions."""
