"""Serving: admission into one bounded queue per model, batching, and the worker process pool.

    request -> ModelQueue.put (bounded, deadline) -> WorkerHandle loop takes a batch when idle
            -> worker process runs the model -> futures resolved -> response
"""
