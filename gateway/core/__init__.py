"""The pure core: no I/O, no AWS, no Spark. Everything here is deterministic given its inputs."""
