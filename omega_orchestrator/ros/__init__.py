"""The ROS 2 face of the orchestrator: the only package that imports rclpy."""
