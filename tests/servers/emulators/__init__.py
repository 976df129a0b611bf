"""The local test servers' shared package: `base` (what every server shares) and one package per
vendor emulator (`graph`, `okta`); tests/servers/README.md describes them."""
