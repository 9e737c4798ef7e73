"""Ebb on Kubernetes: manifests rendered from code, and ``ebb controller`` scaling pods.

    render/       ``ebb k8s render``: pure functions build every object as a dict; YAML is
                  written at the edge, one file per concern plus a kustomization.yaml
    controller/   ``ebb controller``: queue-depth scaling through the ``/scale`` subresource,
                  behind the typed ``KubeApi`` seam (``controller.api``; fake: ``controller.fake``)
    client        the one module that imports the official Kubernetes client
    command       the ``ebb k8s`` argv adapter

Importing this package imports none of its modules.
"""
