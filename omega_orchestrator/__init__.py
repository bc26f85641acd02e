"""Omega Orchestrator: a process supervisor for ROS 2 robots."""

__version__ = '0.1.0'
#: The REST API's port: clear of every port the original OmegaOS registry uses
#: (8081, 5000, 8000, 8080, 8090, 7070).
DEFAULT_API_PORT = 8088
