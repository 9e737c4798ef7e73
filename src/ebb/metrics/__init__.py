"""Prometheus metrics. Every metric name lives in ``names``; instruments are built on a registry
passed in by the app factory (never the global default), and queue depth, in-flight and worker
counts are read at scrape time by a collector, so the hot path never updates a gauge."""
