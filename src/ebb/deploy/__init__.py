"""Deployment artefacts rendered from code, never written by hand.

    ebb.metrics.names ─▶ prometheus  scrape config; LocalPrometheus (Debian's binary, subprocess)
                      ─▶ rules       recording + alerting rules (YAML)   ─▶ promtool check/test
                      ─▶ dashboards  Grafana JSON (grafana-foundation-sdk) ─▶ queries run live
    commands: the ``ebb dashboards|rules|prometheus-config`` argv adapters over the three.

Every PromQL expression is built from the metric names in :mod:`ebb.metrics.names`. The modules
import nothing from the serving path, so exporting artefacts starts no server; importing this
package imports none of them.
"""
