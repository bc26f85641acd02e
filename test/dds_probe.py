"""A tiny rclpy talker or listener, to see DDS traffic cross (or not cross) a link.

    python -m test.dds_probe talk NAME     publishes 'NAME <n>' on /omega_probe ten times a second
    python -m test.dds_probe listen        prints '<monotonic seconds> <message>' per message

std_msgs/String on purpose: an unbounded type, so Fast DDS cannot use data sharing (shared
memory that bypasses the transports) whatever the environment says about the transports.
"""

import sys
import time

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

TOPIC = '/omega_probe'
QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)


def main(argv: list[str]) -> None:
    """Talk or listen until SIGINT."""
    rclpy.init()
    node = rclpy.create_node(f'omega_probe_{argv[0]}')
    if argv[0] == 'talk':
        publisher = node.create_publisher(String, TOPIC, QOS)
        count = iter(range(10**9))
        node.create_timer(0.1, lambda: publisher.publish(String(data=f'{argv[1]} {next(count)}')))
    else:
        node.create_subscription(String, TOPIC, lambda msg: print(
            f'{time.monotonic():.3f} {msg.data}', flush=True), QOS)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main(sys.argv[1:])
