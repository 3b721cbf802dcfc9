"""The engine's handlers: terminal, JSON, JUnit, HTML, HAR and profile."""
