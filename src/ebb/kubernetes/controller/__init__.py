"""``ebb controller``: the autoscaling ``Controller`` of ``ebb serve``, hosted on Kubernetes.

    settings      flags checked once; what ``--target`` scales
    api / fake    the typed ``KubeApi`` seam and its in-memory fake
    discovery     the Service's pods from EndpointSlices (list, then watch)
    sources       every pod's ``/metrics`` each tick, summed; Prometheus as the fallback
    actuator      pods from workers; GET then PUT ``/scale``, 409 retry; deletion cost
    guards        advise-only beside an HPA; InferenceService class ``external``
    leader        Lease leader election
    events        Kubernetes Events on the target, rate-limited
    observe       metrics and the desired count the KEDA scaler streams
    keda          KEDA's external scaler gRPC service
    http          ``/metrics`` and ``/healthz``
    app, command  the assembly and the CLI
"""
