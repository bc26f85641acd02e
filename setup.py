"""ament_python packaging: `colcon build`, `ros2 run omega_orchestrator ...`, or plain pip."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'omega_orchestrator'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(include=[PACKAGE, f'{PACKAGE}.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE}']),
        (f'share/{PACKAGE}', ['package.xml']),
        (f'share/{PACKAGE}/launch', glob('launch/*.launch.py')),
        (f'share/{PACKAGE}/config', glob('config/*.json')),
        (f'share/{PACKAGE}/config/demo', glob('config/demo/*.py')),
        (f'share/{PACKAGE}/web', glob('web/*.*')),
    ],
    install_requires=['setuptools', 'psutil'],
    zip_safe=True,
    maintainer='Omega Orchestrator developers',
    maintainer_email='dev@example.com',
    description='Process supervisor for ROS 2 robots',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            f'orchestrator = {PACKAGE}.__main__:main',
            f'omega-orchestrator = {PACKAGE}.__main__:main',
        ],
    },
)
