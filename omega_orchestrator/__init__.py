"""Omega Orchestrator: a process supervisor for ROS 2 robots."""

__version__ = '0.1.0'
