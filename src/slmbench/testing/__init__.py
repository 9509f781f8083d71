"""Test support shipped with the package: the scripted loopback server (`slmbench.testing.scripted`)."""
