"""The REST sidecar: its own process and ROS node, reaching the orchestrator only over ROS."""
