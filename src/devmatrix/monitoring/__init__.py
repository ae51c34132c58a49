"""Monitoring as code: the dashboard's panels, Prometheus config and alert rules, checks, snapshots."""
