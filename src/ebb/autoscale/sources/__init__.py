"""Where signals come from: the gateway in-process, scraped ``/metrics``, or Prometheus.

Every source produces the same ``ScalingInput``, so a policy cannot tell them apart.
"""
