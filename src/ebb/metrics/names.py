"""Every metric name Ebb exports. Dashboards, alert rules and the autoscaler import from here.

Prometheus conventions: ``ebb_`` prefix, base units (seconds, bytes), ``_total`` on counters (the
client library adds it to counter families). The ``code`` label of request counters is the HTTP
status for both protocols (gRPC answers are counted by the HTTP status of the same error).
"""

from typing import Final

QUEUE_DEPTH: Final = "ebb_queue_depth"
INFLIGHT_REQUESTS: Final = "ebb_inflight_requests"
WORKERS: Final = "ebb_workers"
REQUESTS: Final = "ebb_requests"  # counter: ebb_requests_total
REQUEST_DURATION: Final = "ebb_request_duration_seconds"
QUEUE_WAIT: Final = "ebb_queue_wait_seconds"
INFERENCE_DURATION: Final = "ebb_inference_duration_seconds"
BATCH_SIZE: Final = "ebb_batch_size"
QUEUE_ADMISSIONS: Final = "ebb_queue_admissions"  # counter: ebb_queue_admissions_total
QUEUE_REJECTIONS: Final = "ebb_queue_rejections"  # counter: ebb_queue_rejections_total
REQUEST_EXPIRATIONS: Final = "ebb_request_expirations"  # counter: ..._total
WORKER_RESTARTS: Final = "ebb_worker_restarts"  # counter: ebb_worker_restarts_total
POISON_REQUESTS: Final = "ebb_poison_requests"  # counter: ..._total: crashed a worker alone
WATCHDOG_KILLS: Final = "ebb_watchdog_kills"  # counter: ..._total: workers killed for overrunning
WORKER_START: Final = "ebb_worker_start_seconds"
WORKER_CPU: Final = "ebb_worker_cpu_seconds"  # counter: ebb_worker_cpu_seconds_total
WORKER_MEMORY: Final = "ebb_worker_resident_memory_bytes"
GPU_UTILISATION: Final = "ebb_gpu_utilization_ratio"  # gauge {gpu, device}; NVML, GPU only
GPU_MEMORY_USED: Final = "ebb_gpu_memory_used_bytes"  # gauge {gpu, device}
GPU_MEMORY_TOTAL: Final = "ebb_gpu_memory_total_bytes"  # gauge {gpu, device}
WORKER_GPU_UTILISATION: Final = "ebb_worker_gpu_utilization_ratio"  # gauge {model, worker}
WORKER_GPU_MEMORY: Final = "ebb_worker_gpu_memory_bytes"  # gauge {model, worker}
QUEUE_CAPACITY: Final = "ebb_queue_capacity"
MODEL_INFO: Final = "ebb_model"  # info: ebb_model_info
ANOMALY_SCORE: Final = "ebb_anomaly_score"  # gauge {model, signal}
ANOMALY_ACTIVE: Final = "ebb_anomaly_active"  # gauge {model, signal}: 1 while anomalous
AUTOSCALER_DESIRED: Final = "ebb_autoscaler_desired_workers"
AUTOSCALER_DECISIONS: Final = "ebb_autoscaler_decisions"  # counter: ..._total{direction}
AUTOSCALER_POLICY: Final = "ebb_autoscaler_policy"  # info: ebb_autoscaler_policy_info
REQUESTS_REJECTED: Final = "ebb_requests_rejected"  # counter: ..._total{reason, protocol}
INFERENCE_LOG_WRITTEN: Final = "ebb_inference_log_written"  # counter: ..._total
INFERENCE_LOG_DROPPED: Final = "ebb_inference_log_dropped"  # counter: ..._total
INFERENCE_LOG_BUFFERED: Final = "ebb_inference_log_buffered_records"  # gauge
CONTROLLER_DESIRED: Final = "ebb_desired_replicas"  # gauge {deployment}: ebb controller's pods
CONTROLLER_DECISIONS: Final = "ebb_controller_decisions"  # counter: ..._total{direction}
CONTROLLER_SCRAPE_ERRORS: Final = "ebb_controller_scrape_errors"  # counter: ..._total
CONTROLLER_CONFLICT: Final = "ebb_controller_conflict"  # gauge: 1 while an HPA owns the target
CONTROLLER_WRITE_CONFLICTS: Final = "ebb_controller_scale_conflicts"  # counter: 409s, ..._total
CONTROLLER_WRITES: Final = "ebb_controller_scale_writes"  # counter: ..._total
CONTROLLER_LEADER: Final = "ebb_controller_leader"  # gauge: 1 while this replica holds the Lease

LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75,
                          1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
START_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
