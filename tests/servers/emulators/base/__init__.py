"""What every local test server shares (tests/servers/README.md, "The emulators are a small package")."""
