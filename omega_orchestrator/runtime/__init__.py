"""The runtime: asyncio + OS; executes what the core decides. No rclpy, no fastapi."""
