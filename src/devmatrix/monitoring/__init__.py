"""Monitoring: the metrics registry, structured logs, the Pushgateway push, and monitoring as code
(the dashboard's panels, the Prometheus config and alert rules, their coverage)."""
