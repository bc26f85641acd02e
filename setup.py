"""ament_python packaging: `colcon build`, `ros2 run omega_orchestrator ...`, or plain pip."""

from glob import glob
import os

from setuptools import find_packages, setup

PACKAGE = 'omega_orchestrator'


def tree(folder: str) -> list[tuple[str, list[str]]]:
    """data_files entries installing folder/ and its subfolders under share/PACKAGE/."""
    entries = []
    for path, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__' and not d.startswith('.'))
        files = sorted(os.path.join(path, f) for f in files if not f.startswith('.'))
        if files:
            entries.append((f'share/{PACKAGE}/{path}', files))
    return entries


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
        (f'share/{PACKAGE}/config/systemd', glob('config/systemd/*.service')),
        *tree('web'),
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
            f'sidecar = {PACKAGE}.sidecar.__main__:main',
            f'omega-services = {PACKAGE}.client:main',
        ],
    },
)
