"""The inference log: a durable record of what each model was asked and answered.

Data flow, one way::

    QueueDispatcher ─▶ InferenceLog.hook (sample, bounded deque) ─▶ InferenceLog.run (batches)
        ─▶ rows (metadata, digests or payloads) ─▶ LogStore (SQLite | PostgreSQL) ─▶ tables

``wiring.open_inference_log`` builds it from settings; ``command`` is ``ebb log query|export``.
Only ``store`` imports a database driver. Nothing is imported here, so that the settings can
check a URL (``url``) without loading the rest.
"""
