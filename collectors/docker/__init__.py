"""Docker Engine hosts: the engine, its containers (running and stopped), images and swarm
services, and the engine's events as access history.

Imports inside this package are absolute: ``import docker`` always means the Docker SDK.
"""
