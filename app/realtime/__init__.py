"""Transport: socket.io namespaces for visitors (/visitor) and agents (/agent)."""
