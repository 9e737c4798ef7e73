"""The live dashboard page served by ``ebb serve`` at ``/dashboard`` for users without Grafana.

A sampler records the same signals as the metrics once a second into a bounded timeline; the page
(plain HTML, CSS and a small SVG chart script shipped in this package: no CDN, no external
network) polls ``/dashboard/data`` every second and redraws.
"""
