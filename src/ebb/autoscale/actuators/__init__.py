"""Actuators apply a decision: local worker processes, or (later) a Kubernetes scale subresource."""
