"""Composition root and runtime: settings, CLI, channel adapters. The only place importing platform SDKs."""
