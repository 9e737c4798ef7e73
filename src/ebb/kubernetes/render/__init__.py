"""``ebb k8s render``: Ebb's Kubernetes manifests, built from code as plain dicts.

    options     RenderOptions and the combinations refused (one writer per scale target)
    meta        names, labels, ports        pod         the serving container and pod settings
    workload    Deployment, Service, PDB, ServiceAccount
    kserve      ClusterServingRuntime, InferenceService
    monitoring  PodMonitor/ServiceMonitor, PrometheusRule, Grafana dashboard ConfigMaps
    scaling     KEDA ScaledObject, HPA + prometheus-adapter rules, VPA
    controller  the ``ebb controller`` Deployment, RBAC, Service
    bundle      which objects go into which file; the kustomization
    write       YAML text and files (the only I/O)
    command     the argv adapter

Every function but ``write`` is pure, so tests validate the dicts without touching disk.
"""
